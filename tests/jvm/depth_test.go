package jvmtests

import (
	"path/filepath"
	"testing"

	"github.com/google/pprof/profile"
)

// depthStats: of the main thread's samples (value vi), the share marked
// [truncated], the share holding both the recursion's root and its bottom
// (a whole stack), and the deepest stack seen. The JIT's compiler threads
// take a varying share of a loaded machine's CPU: they are left out.
func depthStats(p *profile.Profile, vi int) (truncated, whole float64, deepest int) {
	var all, cut, both int64
	for _, s := range p.Sample {
		if len(s.Label["thread_name"]) > 0 && s.Label["thread_name"][0] != "main" {
			continue
		}
		fr := names(s)
		all += s.Value[vi]
		if indexOf(fr, "[truncated]") >= 0 {
			cut += s.Value[vi]
		}
		if indexOf(fr, "com.example.Deep.root") >= 0 && indexOf(fr, "com.example.Deep.bottom") >= 0 {
			both += s.Value[vi]
		}
		if len(fr) > deepest {
			deepest = len(fr)
		}
	}
	if all == 0 {
		return 0, 0, 0
	}
	return 100 * float64(cut) / float64(all), 100 * float64(both) / float64(all), deepest
}

// Java recursion 400 deep: whole at the default depth (1024); at depth=64
// the leaf side is kept and the cut is marked [truncated] at the root.
func TestDeepRecursionCPU(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		out := filepath.Join(t.TempDir(), "deep.pb.gz")
		mustRun(t, j, "start,event=cpu,interval=5ms,file="+out, "Deep", "2", "400")
		p := readProfile(t, out)
		truncated, whole, deepest := depthStats(p, valueIndex(t, p, "cpu"))
		t.Logf("default depth: [truncated] %.2f%%, root and bottom together %.1f%%, deepest %d", truncated, whole, deepest)
		if truncated > 1 {
			t.Errorf("[truncated] in %.2f%% of samples at recursion depth 400, want <= 1%%", truncated)
		}
		// The rest: startup, and the few samples the JVM could not walk.
		if whole < 85 {
			t.Errorf("root and bottom in the same stack in %.1f%% of main's samples, want >= 85%%", whole)
		}
		if deepest < 400 {
			t.Errorf("deepest stack %d frames, want >= 400", deepest)
		}

		out = filepath.Join(t.TempDir(), "deep64.pb.gz")
		mustRun(t, j, "start,event=cpu,interval=5ms,depth=64,file="+out, "Deep", "2", "400")
		p = readProfile(t, out)
		vi := valueIndex(t, p, "cpu")
		truncated, whole, deepest = depthStats(p, vi)
		t.Logf("depth=64: [truncated] %.2f%%, whole %.1f%%, deepest %d", truncated, whole, deepest)
		if whole > 0 || deepest > 64+2 {
			t.Errorf("depth=64 kept stacks of %d frames (root and bottom together in %.1f%%)", deepest, whole)
		}
		// The leaf side is kept: bottom under a cut stack.
		cutAtBottom := total(p, vi, "[truncated]", "com.example.Deep.bottom")
		if truncated < 85 || cutAtBottom == 0 {
			t.Errorf("depth=64: [truncated] in %.1f%% of main's samples, %d cpu under bottom in cut stacks; want >= 85%% and the leaf kept", truncated, cutAtBottom)
		}
		for _, smp := range p.Sample {
			if fr := names(smp); indexOf(fr, "[truncated]") >= 0 && indexOf(fr, "[truncated]") != len(fr)-1 {
				t.Fatalf("[truncated] not at the root: %v", fr)
			}
		}
	})
}

// Allocation stacks follow depth= too: under recursion 400 deep they are
// deeper than the 128 frames they once were cut at, and depth=64 marks the
// cut.
func TestDeepRecursionAlloc(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		out := filepath.Join(t.TempDir(), "deep-alloc.pb.gz")
		mustRun(t, j, "start,event=alloc,alloc_interval=256k,file="+out, "Deep", "1", "400", "alloc")
		p := readProfile(t, out)
		vi := valueIndex(t, p, "alloc_space")
		_, whole, deepest := depthStats(p, vi)
		t.Logf("alloc, default depth: root and bottom together %.1f%%, deepest %d", whole, deepest)
		if deepest <= 400 || whole < 90 {
			t.Errorf("allocation stacks: deepest %d frames, root and bottom together in %.1f%%; want > 400 and >= 90%%", deepest, whole)
		}

		out = filepath.Join(t.TempDir(), "deep-alloc64.pb.gz")
		mustRun(t, j, "start,event=alloc,alloc_interval=256k,depth=64,file="+out, "Deep", "1", "400", "alloc")
		p = readProfile(t, out)
		vi = valueIndex(t, p, "alloc_space")
		truncated, whole, deepest := depthStats(p, vi)
		t.Logf("alloc, depth=64: [truncated] %.1f%%, deepest %d", truncated, deepest)
		if truncated < 90 || whole > 0 || deepest > 64+2 || total(p, vi, "[truncated]", "long[]", "com.example.Deep.bottom") == 0 {
			t.Errorf("alloc depth=64: [truncated] %.1f%%, whole %.1f%%, deepest %d; want the leaf side kept (long[] under bottom) and the cut marked", truncated, whole, deepest)
		}
	})
}
