// Our speedscope and .cpuprofile files opened by speedscope itself (the npm
// package's app, a reader we did not write) in headless Chromium: it
// imports them, names the profile, and lists our functions.
package browsertest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestSpeedscopeImportsOurFiles(t *testing.T) {
	app := filepath.Join(repoRoot(t), "node_modules", "speedscope", "dist", "release")
	if _, err := os.Stat(filepath.Join(app, "index.html")); err != nil {
		t.Fatalf("speedscope (a devDependency) is not installed: run npm install at the repository root: %v", err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pb.gz")
	writeProfile(t, in)
	for _, out := range []string{"p.speedscope.json", "p.cpuprofile"} {
		cmd := exec.Command("node", filepath.Join(repoRoot(t), "node", "lib", "cli.js"), "convert", in, "-o", filepath.Join(dir, out))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("polyprof convert -o %s: %v\n%s", out, err, b)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app/", http.FileServer(http.Dir(app))))
	mux.Handle("/p/", http.StripPrefix("/p/", http.FileServer(http.Dir(dir))))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, cancel := browserContext(t)
	defer cancel()
	for _, tc := range []struct{ file, title string }{
		{"p.speedscope.json", "polyprof profile"},
		{"p.cpuprofile", "p.cpuprofile"},
	} {
		page := srv.URL + "/app/index.html#profileURL=" + url.QueryEscape(srv.URL+"/p/"+tc.file) + "&view=sandwich"
		var title, text string
		err := chromedp.Run(ctx, chromedp.Navigate(page),
			chromedp.Poll(`document.title.endsWith(' - speedscope') && document.body.innerText.includes('alpha_work')`,
				nil, chromedp.WithPollingTimeout(30*time.Second)),
			chromedp.Title(&title), chromedp.Evaluate(`document.body.innerText`, &text))
		if err != nil {
			_ = chromedp.Run(ctx, chromedp.Evaluate(`document.body.innerText`, &text))
			t.Fatalf("speedscope did not import %s: %v\npage: %.500s", tc.file, err, text)
		}
		if !strings.HasPrefix(title, tc.title) {
			t.Errorf("%s: title %q, want it to start with %q", tc.file, title, tc.title)
		}
		for _, fn := range []string{"main", "alpha_work", "beta_work", "gamma<&>\"quoted\""} {
			if !strings.Contains(text, fn) {
				t.Errorf("%s: speedscope's sandwich view lacks %s", tc.file, fn)
			}
		}
		if strings.Contains(text, "Something went wrong") {
			t.Errorf("%s: speedscope reports an error: %.300s", tc.file, text)
		}
		screenshot(t, ctx, "speedscope-"+strings.ReplaceAll(tc.file, ".", "-")+".png")
	}
}
