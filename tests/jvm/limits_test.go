package jvmtests

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The profiler's own limits: the memory cap on its stack tables and the CPU
// budget that slows sampling down.

const overflowFrame = "[overflow: profiler memory cap reached]"

// commentInt: a `key=value` comment of the profile as an integer; the test
// fails if it is missing.
func commentInt(t *testing.T, comments []string, key string) int64 {
	t.Helper()
	for _, c := range comments {
		if strings.HasPrefix(c, key+"=") {
			v, err := strconv.ParseInt(strings.TrimPrefix(c, key+"="), 10, 64)
			if err != nil {
				t.Fatalf("comment %q: %v", c, err)
			}
			return v
		}
	}
	t.Fatalf("no comment %s= in %q", key, comments)
	return 0
}

func commentFloat(t *testing.T, comments []string, key string) float64 {
	t.Helper()
	for _, c := range comments {
		if strings.HasPrefix(c, key+"=") {
			v, err := strconv.ParseFloat(strings.TrimPrefix(c, key+"="), 64)
			if err != nil {
				t.Fatalf("comment %q: %v", c, err)
			}
			return v
		}
	}
	t.Fatalf("no comment %s= in %q", key, comments)
	return 0
}

// mustRunCPU: mustRun that also returns the CPU (user + system) the JVM
// burnt, measured by the kernel.
func mustRunCPU(t *testing.T, j jdk, options, class string, args ...string) (run, time.Duration) {
	t.Helper()
	cmd := javaCommand(j, nil, options, class, args...)
	r := runCommand(t, cmd)
	if r.exit != 0 || !strings.Contains(r.stdout, "done") {
		t.Fatalf("java %s (agent %q) exit %d\nstdout: %s\nstderr: %s", class, options, r.exit, r.stdout, r.stderr)
	}
	return r, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// Far more distinct stacks than 1 MiB of tables holds: the table stays
// under the cap, and what did not fit is counted in one overflow sample
// that the dropped_memory_cap comment accounts for exactly.
func TestMemoryCap(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		out := filepath.Join(t.TempDir(), "m.pb.gz")
		// 8 threads recursing through random ones of 64 methods, 40 to
		// 100 deep: nearly every sample is a stack of its own.
		// Every thread on every tick (wall_threads above the thread count):
		// each sample then counts one, and the distinct stacks can be
		// compared with the samples.
		mustRun(t, j, "start,event=wall,interval=1ms,wall_threads=4096,memory=1m,native=false,file="+out, "Stacks", "4", "8")
		p := readProfile(t, out)
		if p.SampleType[0].Type != "samples" || p.SampleType[0].Unit != "count" {
			t.Fatalf("value 0 is %v, want samples/count", p.SampleType[0])
		}
		dropped := commentInt(t, p.Comments, "dropped_memory_cap")
		tableBytes := commentInt(t, p.Comments, "table_bytes")
		var overflow, overflowSamples, kept int64
		stacks := map[string]bool{}
		methods := map[string]bool{}
		for _, s := range p.Sample {
			fr := names(s)
			if indexOf(fr, overflowFrame) >= 0 {
				if len(fr) != 1 {
					t.Errorf("overflow sample with more than its one frame: %v", fr)
				}
				overflow += s.Value[0]
				overflowSamples++
				continue
			}
			if len(s.Label["thread_name"]) == 0 || !strings.HasPrefix(s.Label["thread_name"][0], "stacks-") {
				continue
			}
			kept += s.Value[0]
			stacks[strings.Join(fr, ";")] = true
			for _, f := range fr {
				if strings.HasPrefix(f, "com.example.Stacks.m") {
					methods[f] = true
				}
			}
		}
		t.Logf("dropped_memory_cap=%d table_bytes=%d overflow samples=%d; kept %d worker samples in %d distinct stacks through %d of the 64 methods",
			dropped, tableBytes, overflow, kept, len(stacks), len(methods))
		// The stacks really differ: the JIT did not fold the 64 methods
		// into a few frames.
		if len(methods) < 60 {
			t.Errorf("only %d of the 64 methods in the stacks: %v", len(methods), methods)
		}
		// In wall mode a thread that waits for a core (8 threads on 2
		// cores) is signalled once it runs again, and that sample carries
		// every tick it waited: the value counts ticks, not stacks. What
		// matters is that the workload makes more distinct stacks than
		// the cap holds: the table filled (below) with hundreds of them,
		// and the ticks of all 8 threads are there, kept or dropped.
		if len(stacks) < 500 {
			t.Errorf("%d distinct worker stacks: want at least 500", len(stacks))
		}
		if seconds := float64(kept+overflow) / 1000 / 8; seconds < 2 {
			t.Errorf("kept and dropped ticks add up to %.1f s of the 8 threads' wall time, want most of 4 s", seconds)
		}
		if dropped <= 0 {
			t.Errorf("dropped_memory_cap=%d, want > 0", dropped)
		}
		if tableBytes <= 0 || tableBytes > 1<<20 {
			t.Errorf("table_bytes=%d, want 1 .. %d", tableBytes, 1<<20)
		}
		if overflowSamples > 1 {
			t.Errorf("%d overflow samples, want one", overflowSamples)
		}
		if overflow != dropped {
			t.Errorf("the %q sample counts %d samples, dropped_memory_cap=%d", overflowFrame, overflow, dropped)
		}
	})
}

// A CPU budget far under what sampling every millisecond costs: the core
// doubles the interval every second it is over budget (1 -> 2 -> 4 ms ...),
// without stopping in a few seconds, and the samples, weighted by the
// interval in force, still add up to the CPU the workload burnt.
func TestCPUBudget(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		out := filepath.Join(t.TempDir(), "b.pb.gz")
		// Burn takes whole seconds: 4 s leaves the 1 s budget checks time
		// for two doublings on a loaded machine.
		_, cpu := mustRunCPU(t, j, "start,event=cpu,interval=1ms,cpu_budget=0.0001%,file="+out, "Burn", "4")
		p := readProfile(t, out)
		overhead := commentFloat(t, p.Comments, "overhead_pct")
		budget := comment(p, "cpu_budget_pct")
		intervalUs := commentInt(t, p.Comments, "budget_interval_us")
		stopped := commentInt(t, p.Comments, "budget_stopped")
		vi := valueIndex(t, p, "cpu")
		var sum int64
		for _, s := range p.Sample {
			sum += s.Value[vi]
		}
		profiled := time.Duration(sum)
		t.Logf("overhead_pct=%.3f cpu_budget_pct=%s budget_interval_us=%d budget_stopped=%d; profile %.2fs cpu, process burnt %.2fs",
			overhead, budget, intervalUs, stopped, profiled.Seconds(), cpu.Seconds())
		if overhead <= 0 {
			t.Errorf("overhead_pct=%g, want > 0", overhead)
		}
		if budget == "" {
			t.Errorf("no cpu_budget_pct comment")
		}
		if intervalUs < 4000 {
			t.Errorf("budget_interval_us=%d, want >= 4000 (doubled at least twice)", intervalUs)
		}
		if stopped != 0 {
			t.Errorf("budget_stopped=%d, want 0", stopped)
		}
		// Burn runs 4 s of wall time; a loaded 2-core machine has given it
		// under a quarter of that: a loose bound, the ratio is the check.
		if profiled < time.Second/2 || profiled > 6*time.Second {
			t.Errorf("profile's cpu %.2fs, want 0.5s .. 6s", profiled.Seconds())
		}
		if float64(profiled) < 0.5*float64(cpu) || float64(profiled) > 1.5*float64(cpu) {
			t.Errorf("profile's cpu %.2fs not within 50%% of the %.2fs the process burnt", profiled.Seconds(), cpu.Seconds())
		}
	})
}
