module polyprof/browsertest

go 1.26.0

require (
	github.com/chromedp/chromedp v0.9.5
	github.com/google/pprof v0.0.0-20261016150608-1facf8f91b50
)

require (
	github.com/chromedp/cdproto v0.0.0-20240202021202-6d0b6a386732 // indirect
	github.com/chromedp/sysutil v1.0.0 // indirect
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/pool v0.2.1 // indirect
	github.com/gobwas/ws v1.3.2 // indirect
	github.com/josharian/intern v1.0.0 // indirect
	github.com/mailru/easyjson v0.7.7 // indirect
	golang.org/x/sys v0.32.0 // indirect
)
