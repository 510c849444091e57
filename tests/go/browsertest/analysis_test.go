// The differential flame graph and `polyprof serve` in headless Chromium:
// a function whose share grew is drawn red, one whose share shrank blue,
// a function only the base has is listed (and drawn in the base's shape);
// the store page lists profiles newest first, opens one's flame graph and
// diffs two. Screenshots are saved next to flamegraph.png.
package browsertest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/pprof/profile"
)

// writeStacks writes a pprof file of samples/count with one sample per
// stack ("main;alpha_work" root first).
func writeStacks(t *testing.T, path string, stacks map[string]int64) {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10000000,
	}
	locs := map[string]*profile.Location{}
	loc := func(name string) *profile.Location {
		if l, ok := locs[name]; ok {
			return l
		}
		id := uint64(len(locs) + 1)
		f := &profile.Function{ID: id, Name: name, SystemName: name, Filename: "app.py"}
		l := &profile.Location{ID: id, Line: []profile.Line{{Function: f, Line: int64(id)}}}
		p.Function = append(p.Function, f)
		p.Location = append(p.Location, l)
		locs[name] = l
		return l
	}
	for stack, n := range stacks {
		names := strings.Split(stack, ";")
		var ls []*profile.Location
		for i := len(names) - 1; i >= 0; i-- { // leaf first
			ls = append(ls, loc(names[i]))
		}
		p.Sample = append(p.Sample, &profile.Sample{Location: ls, Value: []int64{n}})
	}
	savePprof(t, path, p)
}

// base: 110 samples; new: 220 (twice as long). Shares: alpha 68% -> 27%
// (shrank), beta 23% -> 64% (grew), gone 9% -> none, fresh none -> 9%.
var (
	baseStacks = map[string]int64{"main;alpha_work": 75, "main;beta_work": 15, "main;beta_work;gamma": 10, "main;gone_work": 10}
	newStacks  = map[string]int64{"main;alpha_work": 60, "main;beta_work": 120, "main;beta_work;gamma": 20, "main;fresh_work": 20}
)

type colored struct {
	Name  string  `json:"name"`
	Left  float64 `json:"left"`
	Width float64 `json:"width"`
	Top   float64 `json:"top"`
	RGB   []int   `json:"rgb"`
}

const coloredJS = `[...document.querySelectorAll('#graph .f')].map(d => {
  const r = d.getBoundingClientRect();
  return {name: window.FLAME.strings[window.FLAME.nodes[3 * d.dataset.i]], left: r.left, width: r.width, top: r.top,
          rgb: getComputedStyle(d).backgroundColor.match(/\d+/g).slice(0, 3).map(Number)};
})`

func (c colored) name() string { return c.Name }

func coloredByName(fs []colored, name string) *colored { return named(fs, name) }

func isRed(c *colored) bool  { return c != nil && c.RGB[0] == 255 && c.RGB[2] < 200 }
func isBlue(c *colored) bool { return c != nil && c.RGB[2] == 255 && c.RGB[0] < 200 }

func browserContext(t *testing.T) (context.Context, func()) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed (Debian's chromium package): the pages are checked in a real browser")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.WindowSize(1200, 600))
	actx, cancel1 := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel2 := chromedp.NewContext(actx)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	return ctx, func() { cancel3(); cancel2(); cancel1() }
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("FLAMEGRAPH_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if len(png) < 1000 {
		t.Fatalf("screenshot of %d bytes", len(png))
	}
	shot := filepath.Join(dir, name)
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
}

// checkDiffPage: the page at ctx is the differential flame graph of
// baseStacks -> newStacks.
func checkDiffPage(t *testing.T, ctx context.Context, shot string) {
	var frames []colored
	if err := chromedp.Run(ctx, chromedp.WaitVisible("#graph .f"), chromedp.Evaluate(coloredJS, &frames)); err != nil {
		t.Fatal(err)
	}
	alpha, beta, fresh := coloredByName(frames, "alpha_work"), coloredByName(frames, "beta_work"), coloredByName(frames, "fresh_work")
	if !isRed(beta) || !isRed(fresh) {
		t.Errorf("beta_work and fresh_work grew: they should be red: %+v %+v", beta, fresh)
	}
	if !isBlue(alpha) {
		t.Errorf("alpha_work shrank: it should be blue: %+v", alpha)
	}
	if main := coloredByName(frames, "main"); main == nil || isRed(main) || isBlue(main) {
		t.Errorf("main holds 100%% of both: it should be neutral: %+v", main)
	}
	if g := coloredByName(frames, "gone_work"); g != nil {
		t.Errorf("gone_work has no samples in the new profile: it should not be drawn in the new shape: %+v", g)
	}
	var gone string
	if err := chromedp.Run(ctx, chromedp.Text("#gone", &gone, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(gone, "main \u2192 gone_work") || !strings.Contains(gone, "9.09% of base") {
		t.Errorf("gone_work should be listed as only in the base: %q", gone)
	}
	// Hover beta_work: base and new shares and the change.
	var tip string
	if err := chromedp.Run(ctx,
		chromedp.ActionFunc(func(ctx context.Context) error {
			return chromedp.MouseEvent("mouseMoved", beta.Left+beta.Width/2, beta.Top+5).Do(ctx)
		}),
		chromedp.Text("#tip", &tip, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"beta_work", "base 22.73%", "new 63.64%", "+40.91 points"} {
		if !strings.Contains(tip, want) {
			t.Errorf("tooltip %q lacks %q", tip, want)
		}
	}
	screenshot(t, ctx, shot+".png")
	// The base's shape: gone_work is drawn (blue), fresh_work is not.
	var based []colored
	if err := chromedp.Run(ctx, chromedp.Click("#shape", chromedp.ByQuery), chromedp.Evaluate(coloredJS, &based)); err != nil {
		t.Fatal(err)
	}
	if g := coloredByName(based, "gone_work"); !isBlue(g) || coloredByName(based, "fresh_work") != nil {
		t.Errorf("in the base shape gone_work should be drawn blue and fresh_work not at all: %+v", based)
	}
	screenshot(t, ctx, shot+"-base-shape.png")
}

func TestDiffPageInChromium(t *testing.T) {
	dir := t.TempDir()
	base, cur, page := filepath.Join(dir, "base.pb.gz"), filepath.Join(dir, "new.pb.gz"), filepath.Join(dir, "diff.html")
	writeStacks(t, base, baseStacks)
	writeStacks(t, cur, newStacks)
	cmd := exec.Command("node", filepath.Join(repoRoot(t), "node", "lib", "cli.js"), "diff", base, cur, "-o", page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("polyprof diff: %v\n%s", err, out)
	}
	ctx, cancel := browserContext(t)
	defer cancel()
	requests := watchRequests(t, ctx)
	if err := chromedp.Run(ctx, chromedp.Navigate("file://"+page)); err != nil {
		t.Fatal(err)
	}
	checkDiffPage(t, ctx, "diff")
	checkSelfContained(t, ctx, requests, page)
}

// polyprofPython: an interpreter that imports polyprof (POLYPROF_PYTHON, as
// tests/run_all.sh sets it, else python3 with the source tree's build).
func polyprofPython(t *testing.T) (string, []string) {
	if py := os.Getenv("POLYPROF_PYTHON"); py != "" {
		return py, os.Environ()
	}
	env := append(os.Environ(), "PYTHONPATH="+filepath.Join(repoRoot(t), "python"))
	probe := exec.Command("python3", "-c", "import polyprof._native")
	probe.Env = env
	if out, err := probe.CombinedOutput(); err != nil {
		t.Fatalf("no Python with polyprof: set POLYPROF_PYTHON or build in place (setup.py build_ext --inplace): %v\n%s", err, out)
	}
	return "python3", env
}

func TestServePageInChromium(t *testing.T) {
	store := t.TempDir()
	older := "checkout_cpu_20251124T100000.000Z_continuous.pb.gz"
	newer := "checkout_cpu_20251124T110000.000Z_p95.pb.gz"
	writeStacks(t, filepath.Join(store, older), baseStacks)
	writeStacks(t, filepath.Join(store, newer), newStacks)
	// An encrypted entry (the store's header, then what no key here opens).
	sealed := "billing_cpu_20251124T103000.000Z_manual.pb.gz.enc"
	if err := os.WriteFile(filepath.Join(store, sealed), append([]byte("PPSTENC\x01"), make([]byte, 64)...), 0o644); err != nil {
		t.Fatal(err)
	}

	py, env := polyprofPython(t)
	srv := exec.Command(py, "-m", "polyprof", "serve", store, "--port", "0")
	srv.Env = append(env, "POLYPROF_STORE_KEY=")
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	urlRe := regexp.MustCompile(`at (http://127\.0\.0\.1:\d+/)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := urlRe.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		close(found)
	}()
	var url string
	select {
	case url = <-found:
	case <-time.After(30 * time.Second):
	}
	if url == "" {
		t.Fatal("polyprof serve did not say where it listens")
	}

	ctx, cancel := browserContext(t)
	defer cancel()
	var files []string
	if err := chromedp.Run(ctx, chromedp.Navigate(url), chromedp.WaitVisible("#profiles tbody tr"),
		chromedp.Evaluate(`[...document.querySelectorAll('#profiles tbody tr')].map(r => r.dataset.file)`, &files)); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(files) != fmt.Sprint([]string{newer, sealed, older}) {
		t.Errorf("the list should show every profile, newest first: %v", files)
	}
	screenshot(t, ctx, "serve-list.png")

	// The encrypted one says so, and the list still works afterwards.
	var badge, message string
	if err := chromedp.Run(ctx, chromedp.Text(`tr[data-file="`+sealed+`"] .enc`, &badge, chromedp.ByQuery),
		chromedp.Click(`tr[data-file="`+sealed+`"] a.open`, chromedp.ByQuery),
		chromedp.Text("#message", &message, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if badge != "encrypted" || !strings.Contains(message, "is encrypted") || !strings.Contains(message, "POLYPROF_STORE_KEY") {
		t.Errorf("the encrypted profile: badge %q, message %q", badge, message)
	}
	screenshot(t, ctx, "serve-encrypted.png")
	if err := chromedp.Run(ctx, chromedp.Navigate(url), chromedp.WaitVisible("#profiles tbody tr")); err != nil {
		t.Fatal(err)
	}

	// A profile's link opens its flame graph.
	var frames []frame
	if err := chromedp.Run(ctx, chromedp.Click(`tr[data-file="`+newer+`"] a.open`, chromedp.ByQuery),
		chromedp.WaitVisible("#graph .f"), chromedp.Evaluate(framesJS, &frames)); err != nil {
		t.Fatal(err)
	}
	if byName(frames, "beta_work") == nil || byName(frames, "fresh_work") == nil || byName(frames, "gone_work") != nil {
		t.Errorf("the flame graph of %s should have its own frames: %+v", newer, frames)
	}
	screenshot(t, ctx, "serve-flamegraph.png")

	// Back to the list: older as base, newer as new, Diff.
	if err := chromedp.Run(ctx, chromedp.Navigate(url), chromedp.WaitVisible("#profiles tbody tr"),
		chromedp.Click(`tr[data-file="`+older+`"] input[name=base]`, chromedp.ByQuery),
		chromedp.Click(`tr[data-file="`+newer+`"] input[name=new]`, chromedp.ByQuery),
		chromedp.Click("#diff", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	checkDiffPage(t, ctx, "serve-diff")
}
