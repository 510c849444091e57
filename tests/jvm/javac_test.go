package jvmtests

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// javacShares: of all samples, the share with a loss frame (any bracketed
// frame: [unknown_Java], [gc_active], ...); of the main thread's, the share
// with one and the share under JavaCompiler.compile.
func javacShares(p *profile.Profile, vi int) (lossAll, lossMain, compileMain float64) {
	var all, lost, main, mainLost, mainCompile int64
	for _, s := range p.Sample {
		isLost, underCompile := false, false
		for _, f := range names(s) {
			isLost = isLost || (strings.HasPrefix(f, "[") && strings.HasSuffix(f, "]"))
			underCompile = underCompile || f == "com.sun.tools.javac.main.JavaCompiler.compile"
		}
		v := s.Value[vi]
		all += v
		if isLost {
			lost += v
		}
		if len(s.Label["thread_name"]) > 0 && s.Label["thread_name"][0] == "main" {
			main += v
			if isLost {
				mainLost += v
			}
			if underCompile {
				mainCompile += v
			}
		}
	}
	pct := func(a, b int64) float64 {
		if b == 0 {
			return 0
		}
		return 100 * float64(a) / float64(b)
	}
	return pct(lost, all), pct(mainLost, main), pct(mainCompile, main)
}

// A real program nobody here wrote: javac compiling 200 generated source
// files in-process under the agent. What a user checks: the main thread's
// time is under JavaCompiler.compile, and few samples are loss frames.
func TestJavacRealProgram(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		dir := t.TempDir()
		out := filepath.Join(dir, "javac.pb.gz")
		mustRun(t, j, "start,event=cpu,interval=5ms,file="+out, "Javac", dir, "200")
		p := readProfile(t, out)
		lossAll, lossMain, compileMain := javacShares(p, valueIndex(t, p, "samples"))
		t.Logf("loss frames: %.1f%% of all samples, %.1f%% of main's; main under JavaCompiler.compile %.1f%%",
			lossAll, lossMain, compileMain)
		// Measured on a 2-core machine shared with other builds (load 6-11),
		// 5 ms, loss of all / loss of main's / main under compile: JDK 17
		// 3.2% / 7.1% / 84.0% and 2.4% / 5.1% / 87.8%, JDK 25 2.8% / 6.5% /
		// 83.0% and 3.4% / 7.3% / 83.0%. Before the agent walked past the
		// places AsyncGetCallTrace gives up (stubs, compiled-method edges,
		// runtime-stub calls into the VM) it was 10.5% / 23.6% / 69.4% (17)
		// and 10.7% / 25.5% / 64.6% (25): these bounds tell the two apart
		// with about twice the measured loss as margin.
		const maxLossAll, maxLossMain, minCompileMain = 6.0, 12.0, 75.0
		if lossAll > maxLossAll || lossMain > maxLossMain {
			t.Errorf("loss frames in %.1f%% of samples (want <= %.0f%%), %.1f%% of main's (want <= %.0f%%)",
				lossAll, maxLossAll, lossMain, maxLossMain)
		}
		// Time in the JVM's dispatch stubs reads as the stub under its
		// Java caller (not a loss frame): javac calls through interfaces
		// and virtual methods all along.
		stubbed := int64(0)
		for _, smp := range p.Sample {
			fr := names(smp)
			if len(fr) > 1 && (fr[0] == "vtable stub" || fr[0] == "itable stub") &&
				indexOf(fr, "com.sun.tools.javac.main.JavaCompiler.compile") > 0 {
				stubbed += smp.Value[0]
			}
		}
		t.Logf("samples in a vtable/itable stub under JavaCompiler.compile: %d", stubbed)
		if stubbed == 0 {
			t.Errorf("no sample in a vtable/itable stub under JavaCompiler.compile")
		}
		if compileMain < minCompileMain {
			t.Errorf("main thread under JavaCompiler.compile in %.1f%% of its samples, want >= %.0f%%", compileMain, minCompileMain)
		}
	})
}

// The agent finds the compiled method at an interrupted pc in HotSpot's
// code heap, without JVMTI's CompiledMethodLoad events (which cost the JVM
// a decode of every compiled method's debug information); when the
// command line turns DebugNonSafepoints off it keeps to the events. Either
// way samples at a compiled method's frame setup or tear-down are walked
// from the method's caller, and javac's loss stays within the bounds above.
func TestJavacCompiledMethodSources(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		for _, c := range []struct {
			name, from string
			env        []string
		}{
			{"default", "code_heap", nil},
			{"DebugNonSafepoints off", "jvmti_events",
				[]string{"JAVA_TOOL_OPTIONS=-XX:+UnlockDiagnosticVMOptions -XX:-DebugNonSafepoints"}},
		} {
			dir := t.TempDir()
			out := filepath.Join(dir, "javac.pb.gz")
			mustRunEnv(t, j, c.env, "start,event=cpu,interval=5ms,file="+out, "Javac", dir, "150")
			p := readProfile(t, out)
			lossAll, lossMain, _ := javacShares(p, valueIndex(t, p, "samples"))
			recovered := commentInt(t, p.Comments, "agct_recovered_compiled")
			t.Logf("%s: compiled_methods=%s, agct_recovered_compiled=%d, loss %.1f%% of all, %.1f%% of main's",
				c.name, comment(p, "compiled_methods"), recovered, lossAll, lossMain)
			if got := comment(p, "compiled_methods"); got != c.from {
				t.Errorf("%s: compiled_methods=%q, want %q", c.name, got, c.from)
			}
			if recovered == 0 {
				t.Errorf("%s: no sample at a compiled method's edge was walked from its caller", c.name)
			}
			if lossAll > 6 || lossMain > 12 {
				t.Errorf("%s: loss frames in %.1f%% of samples (want <= 6%%), %.1f%% of main's (want <= 12%%)",
					c.name, lossAll, lossMain)
			}
		}
	})
}
