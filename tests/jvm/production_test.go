package jvmtests

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// Production entry points of the agent: the environment's configuration,
// continuous windows to the local store, triggered captures through
// dev.polyprof.Profiler, the rate limiter and the circuit breaker.

// storeFiles: the store's profiles with the given trigger, sorted by name
// (that is, by start time), checked against index.tsv.
func storeFiles(t *testing.T, dir, trigger string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("store %s: %v", dir, err)
	}
	index, err := os.ReadFile(filepath.Join(dir, "index.tsv"))
	if err != nil {
		t.Fatalf("store without index.tsv: %v", err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".pb.gz") {
			continue
		}
		if !strings.Contains(string(index), "\t"+e.Name()) {
			t.Errorf("%s is not in index.tsv:\n%s", e.Name(), index)
		}
		if strings.HasSuffix(e.Name(), "_"+trigger+".pb.gz") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

func parseProfile(t *testing.T, path string) *profile.Profile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatalf("invalid %s: %v", path, err)
	}
	return p
}

func stderrLines(r run) []string {
	s := strings.TrimSpace(r.stderr)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// ENABLE_PROFILING and friends, read by the core: clamped values warn and
// profiling runs with the safe ones; off by default; a bad value leaves the
// JVM running unprofiled with one line naming the variable.
func TestEnvConfiguration(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		store := filepath.Join(t.TempDir(), "profiles")
		r := mustRunEnv(t, j, []string{"ENABLE_PROFILING=true", "PROFILE_INTERVAL_MS=2", "PROFILE_MAX_DURATION=900",
			"POLYPROF_STORE=" + store, "POLYPROF_OPTIONS=window=1s,service=envsvc"}, "", "Burn", "2")
		want := []string{
			"polyprof: PROFILE_INTERVAL_MS: 2 ms is below the 10 ms minimum for production profiling; using 10 ms",
			"polyprof: PROFILE_MAX_DURATION: 900 s is above the 300 s cap; using 300 s",
		}
		if got := stderrLines(r); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("stderr %q, want the two warnings %q", got, want)
		}
		files := storeFiles(t, store, "continuous")
		if len(files) < 2 || len(files) > 4 || !strings.HasPrefix(filepath.Base(files[0]), "envsvc_cpu_") {
			t.Fatalf("want 2-4 windows of 1s named envsvc_cpu_*, got %v", files)
		}
		p := readProfile(t, files[0])
		if o := comment(p, "options"); !strings.Contains(o, "interval=10000us") {
			t.Errorf("the first window's options %q, want the clamped interval=10000us", o)
		}
		if total(p, 0, "com.example.Burn.main") == 0 {
			t.Errorf("no samples under com.example.Burn.main in the first window")
		}

		// Off by default: nothing written, nothing said.
		off := filepath.Join(t.TempDir(), "off")
		r = mustRunEnv(t, j, []string{"POLYPROF_STORE=" + off}, "", "Burn", "0")
		if r.stderr != "" {
			t.Errorf("profiling off by default, yet stderr %q", r.stderr)
		}
		if _, err := os.Stat(off); err == nil {
			t.Errorf("profiling off by default, yet the store was created")
		}

		for _, c := range []struct{ env, name string }{
			{"PROFILE_INTERVAL_MS=fast", "PROFILE_INTERVAL_MS"},
			{"ENABLE_PROFILING=maybe", "ENABLE_PROFILING"},
			{"POLYPROF_OPTIONS=bogus=1", "POLYPROF_OPTIONS"},
			{"PROFILE_MAX_DURATION=-5", "PROFILE_MAX_DURATION"},
		} {
			env := []string{"ENABLE_PROFILING=true", "POLYPROF_STORE=" + off, c.env}
			if c.name == "ENABLE_PROFILING" {
				env = []string{"POLYPROF_STORE=" + off, c.env}
			}
			r := mustRunEnv(t, j, env, "", "Latency", "manual")
			lines := stderrLines(r)
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "polyprof: profiling stays off: "+c.name) {
				t.Errorf("%s: want one line 'polyprof: profiling stays off: %s...', got %q", c.env, c.name, r.stderr)
			}
			// Unprofiled: the API answers, but nothing starts.
			if !strings.Contains(r.stdout, "manual1 false") {
				t.Errorf("%s: a manual trigger started under a bad configuration: %s", c.env, r.stdout)
			}
			if _, err := os.Stat(off); err == nil {
				t.Errorf("%s: a refused configuration created the store", c.env)
			}
		}
	})
}

// start,continuous,window=1s: one profile per window in the store, the last
// partial one written at VM death, with the index.
func TestContinuousWindows(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		store := filepath.Join(t.TempDir(), "store")
		mustRun(t, j, "start,continuous,window=1s,interval=10ms,service=cont,store="+store, "Burn", "3")
		files := storeFiles(t, store, "continuous")
		// 3 full windows and the partial one; a loaded machine may start
		// the JVM late or end it early by a window.
		if len(files) < 3 || len(files) > 5 {
			t.Fatalf("want 3-5 windows of 1s over 3s, got %d: %v", len(files), files)
		}
		stamp := regexp.MustCompile(`_(\d{8}T\d{6}\.\d{3})Z_`)
		var prev time.Time
		for i, f := range files {
			p := parseProfile(t, f)
			if comment(p, "trigger") != "continuous" || comment(p, "window") != strconv.Itoa(i) {
				t.Errorf("%s: trigger=%q window=%q, want continuous and %d", f, comment(p, "trigger"),
					comment(p, "window"), i)
			}
			m := stamp.FindStringSubmatch(filepath.Base(f))
			if m == nil {
				t.Fatalf("store name %s", f)
			}
			at, _ := time.Parse("20060102T150405.000", m[1])
			if i > 0 {
				if gap := at.Sub(prev); gap < 900*time.Millisecond || gap > 1500*time.Millisecond {
					t.Errorf("window %d starts %v after the previous one, want 1s", i, gap)
				}
			}
			prev = at
		}
		p := readProfile(t, files[1])
		if total(p, 0, "com.example.Burn.heavy") == 0 {
			t.Errorf("a full window without com.example.Burn.heavy")
		}
	})
}

// Profiler.recordLatency(900) on every request against trigger_p95_ms=100:
// a capture once per cooldown (1s), each stored as ..._p95.pb.gz with what
// fired it in its metadata.
func TestP95Trigger(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		store := filepath.Join(t.TempDir(), "store")
		r := mustRun(t, j, "trigger_p95_ms=100,trigger_cooldown=1s,trigger_duration=200ms,trigger_interval=10ms,"+
			"rate_limit=100/60s,service=lat,store="+store, "Latency", "p95", "3")
		// Each firing as the microseconds before and after the call that
		// fired: the trigger's clock was read in between.
		var fired [][2]int
		for _, line := range strings.Split(r.stdout, "\n") {
			if us, ok := strings.CutPrefix(line, "fired "); ok {
				var b, a int
				if f := strings.Fields(us); len(f) == 2 {
					b, _ = strconv.Atoi(f[0])
					a, _ = strconv.Atoi(f[1])
				}
				fired = append(fired, [2]int{b, a})
			}
		}
		t.Logf("fired at %v us", fired)
		if len(fired) < 2 || len(fired) > 3 {
			t.Fatalf("want a capture once per 1s cooldown over 3s (3, or 2 on a slow machine), got %v\n%s", fired,
				r.stderr)
		}
		for i := 1; i < len(fired); i++ {
			// At least the cooldown apart, and not much more: the workload
			// reports every 2ms.
			if fired[i][1]-fired[i-1][0] < 1000000 || fired[i][0]-fired[i-1][1] > 1500000 {
				t.Errorf("captures %v and %v, want them the 1s cooldown apart", fired[i-1], fired[i])
			}
		}
		files := storeFiles(t, store, "p95")
		if len(files) != len(fired) {
			t.Fatalf("%d captures started, %d stored: %v", len(fired), len(files), files)
		}
		p := readProfile(t, files[0])
		if comment(p, "trigger") != "p95" || comment(p, "p95") != "900.000" || comment(p, "threshold_ms") != "100" ||
			comment(p, "runtime") != "jvm" {
			t.Errorf("metadata %v", p.Comments)
		}
		start, err1 := time.Parse(time.RFC3339, comment(p, "start"))
		end, err2 := time.Parse(time.RFC3339, comment(p, "end"))
		if err1 != nil || err2 != nil || end.Sub(start) < 150*time.Millisecond || end.Sub(start) > 600*time.Millisecond {
			t.Errorf("start=%q end=%q: want a 200ms capture", comment(p, "start"), comment(p, "end"))
		}
		if total(p, 0, "com.example.Latency.work") == 0 {
			t.Errorf("the capture has no samples in com.example.Latency.work")
		}
	})
}

// rate_limit=1/300s: the first manual trigger runs, the second (after the
// first capture ended) is refused; the capture is stored under its reason.
func TestRateLimitManualTrigger(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		store := filepath.Join(t.TempDir(), "store")
		r := mustRun(t, j, "rate_limit=1/300s,trigger_duration=200ms,service=man,store="+store, "Latency", "manual")
		if !strings.Contains(r.stdout, "agent true") || !strings.Contains(r.stdout, "manual1 true") ||
			!strings.Contains(r.stdout, "manual2 false") {
			t.Fatalf("want the first trigger started and the second refused:\n%s%s", r.stdout, r.stderr)
		}
		files := storeFiles(t, store, "deploy")
		if len(files) != 1 {
			t.Fatalf("want one stored capture named after its reason, got %v", files)
		}
		p := parseProfile(t, files[0])
		if comment(p, "trigger") != "deploy" || comment(p, "p95") != "" {
			t.Errorf("metadata %v", p.Comments)
		}
	})
}

// Three latencies 5x the baseline while continuous profiling runs trip the
// breaker: continuous profiling stops (its partial window is written), a
// trigger is refused, Profiler.breakerOpen() says so, and one line says why.
// Past the cooldown (1s here) the next report resumes continuous profiling.
func TestCircuitBreaker(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		store := filepath.Join(t.TempDir(), "store")
		r := mustRun(t, j, "continuous,window=1s,service=brk,breaker_cooldown=1s,rate_limit=100/60s,"+
			"trigger_duration=200ms,store="+store, "Latency", "breaker")
		out := strings.Split(r.stdout, "\n")
		want := []string{"agent true", "profiling true", "open after 1 false", "open after 2 false",
			"open after 3 true", "profiling false", "trigger false", "trips 1", "open false", "profiling true"}
		if len(out) < len(want) || strings.Join(out[:len(want)], "\n") != strings.Join(want, "\n") {
			t.Errorf("stdout %q, want %q", out, want)
		}
		lines := stderrLines(r)
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "polyprof: circuit breaker open: 3 latencies") {
			t.Errorf("want one line on the trip, got %q", r.stderr)
		}
		// Tripped 0.3s into the first window, resumed 2s later for 0.3s:
		// two partial windows, none while the breaker was open.
		files := storeFiles(t, store, "continuous")
		if len(files) != 2 {
			t.Fatalf("want the window cut short by the breaker and the resumed one, got %v", files)
		}
		stamp := regexp.MustCompile(`_(\d{8}T\d{6}\.\d{3})Z_`)
		a, _ := time.Parse("20060102T150405.000", stamp.FindStringSubmatch(filepath.Base(files[0]))[1])
		b, _ := time.Parse("20060102T150405.000", stamp.FindStringSubmatch(filepath.Base(files[1]))[1])
		if gap := b.Sub(a); gap < 1300*time.Millisecond {
			t.Errorf("profiling resumed %v after it started, want after the trip and the 1s cooldown", gap)
		}
		if files := storeFiles(t, store, "after"); len(files) != 0 {
			t.Errorf("a capture started while the breaker was open: %v", files)
		}
	})
}
