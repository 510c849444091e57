// The flame graph page in a real browser (headless Chromium, driven through
// the DevTools protocol by chromedp): frames render with widths that match
// the profile, a click zooms, the search highlights, hovering explains, and
// a screenshot is saved, and the browser fetches nothing but the page
// itself. The page comes from the product's own command: `polyprof
// flamegraph` of a profile this test writes with Google's pprof library.
package browsertest

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/pprof/profile"
)

func repoRoot(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", "..", ".."))
}

// A profile with a known shape: main 100 = a 75 + b 25, and b -> c 10.
func writeProfile(t *testing.T, path string) {
	fn := func(id uint64, name string) *profile.Function {
		return &profile.Function{ID: id, Name: name, SystemName: name, Filename: "app.py"}
	}
	fMain, fA, fB, fC := fn(1, "main"), fn(2, "alpha_work"), fn(3, "beta_work"), fn(4, "gamma<&>\"quoted\"")
	loc := func(id uint64, f *profile.Function) *profile.Location {
		return &profile.Location{ID: id, Line: []profile.Line{{Function: f, Line: int64(id)}}}
	}
	lMain, lA, lB, lC := loc(1, fMain), loc(2, fA), loc(3, fB), loc(4, fC)
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10000000,
		Function:   []*profile.Function{fMain, fA, fB, fC},
		Location:   []*profile.Location{lMain, lA, lB, lC},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{lA, lMain}, Value: []int64{75, 750000000}},
			{Location: []*profile.Location{lB, lMain}, Value: []int64{15, 150000000}},
			{Location: []*profile.Location{lC, lB, lMain}, Value: []int64{10, 100000000}},
		},
	}
	savePprof(t, path, p)
}

func savePprof(t *testing.T, path string, p *profile.Profile) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := p.Write(f); err != nil {
		t.Fatal(err)
	}
}

type frame struct {
	Name  string  `json:"name"`
	Left  float64 `json:"left"`
	Width float64 `json:"width"`
	Top   float64 `json:"top"`
	Match bool    `json:"match"`
}

const framesJS = `[...document.querySelectorAll('#graph .f')].map(d => {
  const r = d.getBoundingClientRect();
  return {name: window.FLAME.strings[window.FLAME.nodes[3 * d.dataset.i]], left: r.left, width: r.width, top: r.top,
          match: d.classList.contains('match')};
})`

func (f frame) name() string { return f.Name }

// named: the first element of fs called name, or nil.
func named[T interface{ name() string }](fs []T, name string) *T {
	for i := range fs {
		if fs[i].name() == name {
			return &fs[i]
		}
	}
	return nil
}

func byName(fs []frame, name string) *frame { return named(fs, name) }

// requestLog: every request the tab makes, as the browser reports it to
// DevTools (Network.requestWillBeSent, each redirect included, and WebSocket
// opens): scripts, styles, fonts, images, XHR/fetch, the page itself.
type requestLog struct {
	mu   sync.Mutex
	urls []string
}

func (l *requestLog) add(url string) {
	l.mu.Lock()
	l.urls = append(l.urls, url)
	l.mu.Unlock()
}

// watchRequests starts recording the requests of the tab at ctx; call it
// before navigating.
func watchRequests(t *testing.T, ctx context.Context) *requestLog {
	t.Helper()
	l := &requestLog{}
	chromedp.ListenTarget(ctx, func(ev interface{}) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			l.add(ev.Request.URL)
		case *network.EventWebSocketCreated:
			l.add(ev.URL)
		}
	})
	if err := chromedp.Run(ctx, network.Enable()); err != nil {
		t.Fatal(err)
	}
	return l
}

// settled: the requests so far, taken once the document has loaded and
// what the last interaction started has had time to be requested (events
// arrive in order, before the answer to the last command).
func (l *requestLog) settled(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var ignored interface{}
	if err := chromedp.Run(ctx, chromedp.Poll(`document.readyState === 'complete'`, nil),
		chromedp.Sleep(500*time.Millisecond), chromedp.Evaluate(`0`, &ignored)); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.urls...)
}

// fetchedBesides: the requests other than the page's own load of itself.
// data: URLs are let through: their content is in the page, nothing is
// fetched (the pages use none today).
func fetchedBesides(page string, urls []string) (self int, others []string) {
	for _, u := range urls {
		switch {
		case u == "file://"+page:
			self++
		case strings.HasPrefix(u, "data:"):
		default:
			others = append(others, u)
		}
	}
	return self, others
}

// checkSelfContained: after loading file://page and using it, the browser
// requested the page, once, and nothing else.
func checkSelfContained(t *testing.T, ctx context.Context, l *requestLog, page string) {
	t.Helper()
	urls := l.settled(t, ctx)
	self, others := fetchedBesides(page, urls)
	if self != 1 || len(others) > 0 {
		t.Errorf("the page must be one self-contained file: want one request, for file://%s; the browser made %d: %q",
			page, len(urls), urls)
	}
}

func TestFlameGraphInChromium(t *testing.T) {
	dir := t.TempDir()
	in, page := filepath.Join(dir, "in.pb.gz"), filepath.Join(dir, "flame.html")
	writeProfile(t, in)
	cmd := exec.Command("node", filepath.Join(repoRoot(t), "node", "lib", "cli.js"), "flamegraph", in, "-o", page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("polyprof flamegraph: %v\n%s", err, out)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(html), "http://") || strings.Contains(string(html), "https://") {
		t.Error("the page must not fetch anything: it names a URL")
	}

	ctx, cancel := browserContext(t)
	defer cancel()
	requests := watchRequests(t, ctx)

	var before []frame
	if err := chromedp.Run(ctx, chromedp.Navigate("file://"+page), chromedp.WaitVisible("#graph .f"),
		chromedp.Evaluate(framesJS, &before)); err != nil {
		t.Fatal(err)
	}
	all, main, a, b := byName(before, "all"), byName(before, "main"), byName(before, "alpha_work"), byName(before, "beta_work")
	c := byName(before, "gamma<&>\"quoted\"")
	if all == nil || main == nil || a == nil || b == nil || c == nil {
		t.Fatalf("frames missing from the page: %+v", before)
	}
	near := func(got, want float64) bool { return math.Abs(got-want) <= 0.02*want+2 }
	if !near(a.Width, 0.75*main.Width) || !near(b.Width, 0.25*main.Width) || !near(c.Width, 0.10*main.Width) {
		t.Errorf("widths do not follow the values: main %.0f, alpha %.0f, beta %.0f, gamma %.0f", main.Width, a.Width, b.Width, c.Width)
	}
	if !(a.Top > main.Top && c.Top > b.Top) {
		t.Errorf("callees are not below their callers: %+v", before)
	}

	// Hover: the tooltip says the share.
	var tip string
	if err := chromedp.Run(ctx,
		chromedp.MouseClickXY(0, 0), // focus, harmless: outside the graph
		chromedp.ActionFunc(func(ctx context.Context) error {
			return chromedp.MouseEvent("mouseMoved", b.Left+b.Width/2, b.Top+5).Do(ctx)
		}),
		chromedp.Text("#tip", &tip, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tip, "beta_work") || !strings.Contains(tip, "25.00% of all") {
		t.Errorf("tooltip: %q", tip)
	}

	// Click beta_work: it fills the width; alpha_work is gone; the URL keeps the zoom.
	var zoomed []frame
	var hash string
	if err := chromedp.Run(ctx, chromedp.MouseClickXY(b.Left+b.Width/2, b.Top+5),
		chromedp.Evaluate(framesJS, &zoomed), chromedp.Evaluate(`location.hash`, &hash)); err != nil {
		t.Fatal(err)
	}
	zb, zc := byName(zoomed, "beta_work"), byName(zoomed, "gamma<&>\"quoted\"")
	if zb == nil || !near(zb.Width, main.Width) || byName(zoomed, "alpha_work") != nil {
		t.Errorf("after the click beta_work should fill the width: %+v", zoomed)
	}
	if zc == nil || !near(zc.Width, 0.4*main.Width) {
		t.Errorf("gamma should be 10/25 of the zoomed width: %+v", zc)
	}
	if !strings.Contains(hash, "zoom=") {
		t.Errorf("the zoom is not in the URL: %q", hash)
	}

	// Escape zooms out; the search highlights and reports the share.
	var searched []frame
	var status string
	var ignored interface{}
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))`, &ignored)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Run(ctx, chromedp.SendKeys("#search", "alpha", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Run(ctx, chromedp.Evaluate(framesJS, &searched),
		chromedp.Evaluate(`document.getElementById('status').textContent`, &status)); err != nil {
		t.Fatal(err)
	}
	if sa := byName(searched, "alpha_work"); sa == nil || !sa.Match {
		t.Errorf("alpha_work not highlighted: %+v", searched)
	}
	if sb := byName(searched, "beta_work"); sb == nil || sb.Match {
		t.Errorf("beta_work should be back and not highlighted: %+v", sb)
	}
	if !strings.Contains(status, "75.0%") {
		t.Errorf("status should give the matched share: %q", status)
	}

	screenshot(t, ctx, "flamegraph.png")
	// Loaded, hovered, zoomed in and out, searched: nothing was fetched.
	checkSelfContained(t, ctx, requests, page)

	// The check can fail: the same page with an image from the network and
	// a stylesheet next to it, each of which the browser requests.
	t.Run("negative control", func(t *testing.T) {
		leaky := filepath.Join(dir, "leaky.html")
		extra := `<img src="http://127.0.0.1:1/x.png"><link rel="stylesheet" href="style.css">`
		doc := strings.Replace(string(html), "<body>", "<body>"+extra, 1)
		if doc == string(html) {
			t.Fatal("the page has no <body> tag to add to")
		}
		if err := os.WriteFile(leaky, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		tab, cancel := chromedp.NewContext(ctx)
		defer cancel()
		l := watchRequests(t, tab)
		if err := chromedp.Run(tab, chromedp.Navigate("file://"+leaky)); err != nil {
			t.Fatal(err)
		}
		self, others := fetchedBesides(leaky, l.settled(t, tab))
		want := []string{"http://127.0.0.1:1/x.png", "file://" + filepath.Join(dir, "style.css")}
		if self != 1 || strings.Join(others, " ") != strings.Join(want, " ") &&
			strings.Join(others, " ") != strings.Join([]string{want[1], want[0]}, " ") {
			t.Errorf("the leaky page's requests besides itself (%d loads of it): %q, want %q", self, others, want)
		}
	})
}
