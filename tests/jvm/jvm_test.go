package jvmtests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Two methods burning CPU 3:1: their shares within 5 percentage points.
func TestCPUShares(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		out := filepath.Join(t.TempDir(), "burn.pb.gz")
		// 1 ms asks for the most samples the kernel's tick gives (a few
		// hundred a second), so the share's sampling error is ~1 pp.
		mustRun(t, j, "start,event=cpu,interval=1ms,file="+out, "Burn", "6")
		p := readProfile(t, out)
		vi := valueIndex(t, p, "cpu")
		heavy := total(p, vi, "com.example.Burn.heavy", "com.example.Burn.spin")
		light := total(p, vi, "com.example.Burn.light", "com.example.Burn.spin")
		s := share(heavy, light)
		t.Logf("heavy %.1f%% light %.1f%%", s, 100-s)
		if s < 70 || s > 80 {
			t.Errorf("heavy:light = %.1f%%, want 75%% +- 5 (heavy %d, light %d)", s, heavy, light)
		}
		// Java frames are named class.method with file and line.
		found := false
		for _, fn := range p.Function {
			if fn.Name == "com.example.Burn.spin" {
				found = fn.Filename == "com/example/Burn.java"
			}
		}
		if !found {
			t.Errorf("com.example.Burn.spin without its file com/example/Burn.java")
		}
		lines := 0
		for _, loc := range p.Location {
			for _, ln := range loc.Line {
				if ln.Function.Name == "com.example.Burn.spin" && ln.Line >= 7 && ln.Line <= 15 {
					lines++
				}
			}
		}
		if lines == 0 {
			t.Errorf("no line of com.example.Burn.spin's body (lines 7-15)")
		}
		// The main thread's stacks start at main: the JVM's launcher frames
		// above the first Java frame are replaced, not kept.
		for _, smp := range p.Sample {
			fr := names(smp)
			if i := indexOf(fr, "com.example.Burn.main"); i >= 0 && i != len(fr)-1 {
				t.Fatalf("frames above main: %v", fr[i:])
			}
		}
	})
}

// A Java method calling a native-heavy routine (Deflater): zlib's native
// frames sit under the Java frames that called them.
func TestDeflaterNativeFrames(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		out := filepath.Join(t.TempDir(), "zip.pb.gz")
		mustRun(t, j, "start,event=cpu,interval=5ms,file="+out, "Zip", "3")
		p := readProfile(t, out)
		vi := valueIndex(t, p, "cpu")
		var all, mixed int64
		for _, smp := range p.Sample {
			fr := names(smp)
			java := indexOf(fr, "java.util.zip.Deflater.deflateBytesBytes")
			if indexOf(fr, "com.example.Zip.compressAll") < 0 {
				continue
			}
			all += smp.Value[vi]
			jni := indexOf(fr, "Java_java_util_zip_Deflater_deflateBytesBytes")
			// Leaf to root: zlib, the JNI function, then the Java frames.
			if java > 0 && jni >= 0 && jni < java && (jni > 0 || indexOf(fr, "deflate") >= 0) {
				native := smp.Location[0].Mapping
				if native != nil && strings.Contains(native.File, ".so") {
					mixed += smp.Value[vi]
				}
			}
		}
		t.Logf("compressAll: %d ns, with native zlib frames under Deflater: %d ns", all, mixed)
		if all == 0 || float64(mixed) < 0.5*float64(all) {
			t.Errorf("want most of compressAll's samples in zlib under Deflater.deflateBytesBytes: %d of %d", mixed, all)
		}
	})
}

// Native code that JIT code calls without a JNI transition (a double
// remainder: SharedRuntime::drem and libm's fmod; System.nanoTime: the
// clock) keeps the Java frames that called it. HotSpot leaves no frame
// anchor for these calls, so AsyncGetCallTrace alone fails there (JDK 17
// lost two thirds of this workload as [unknown_Java]).
func TestLeafCallsKeepJavaFrames(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		out := filepath.Join(t.TempDir(), "leaf.pb.gz")
		mustRun(t, j, "start,event=cpu,interval=5ms,file="+out, "LeafCalls", "3")
		p := readProfile(t, out)
		vi := valueIndex(t, p, "cpu")
		natives := []string{"fmod", "__fmod_finite", "__ieee754_fmod", "SharedRuntime::drem(double, double)",
			"os::javaTimeNanos()", "clock_gettime"}
		var all, inNative, underJava, unknown int64
		for _, smp := range p.Sample {
			fr := names(smp)
			all += smp.Value[vi]
			for _, f := range fr {
				if strings.HasPrefix(f, "[unknown_Java]") || strings.HasPrefix(f, "[not_walkable_Java]") {
					unknown += smp.Value[vi]
					break
				}
			}
			leafNative := false
			for _, n := range natives {
				leafNative = leafNative || (len(fr) > 0 && strings.HasPrefix(fr[0], n))
			}
			if !leafNative {
				continue
			}
			inNative += smp.Value[vi]
			caller := indexOf(fr, "com.example.LeafCalls.remainders")
			if caller < 0 {
				caller = indexOf(fr, "com.example.LeafCalls.clockReads")
			}
			if caller > 0 && indexOf(fr, "com.example.LeafCalls.main") > caller {
				underJava += smp.Value[vi]
			}
		}
		t.Logf("all %d ns; leaf in fmod/drem/the clock %d ns, under their Java callers %d ns; [unknown_Java] and "+
			"[not_walkable_Java] %d ns; recovered %s, not %s", all, inNative, underJava, unknown,
			comment(p, "agct_recovered_native_call"), comment(p, "agct_unrecovered_native_call"))
		if inNative < all/5 {
			t.Fatalf("want at least a fifth of the samples in fmod, drem or the clock: %d of %d ns", inNative, all)
		}
		if float64(underJava) < 0.95*float64(inNative) {
			t.Errorf("want the Java callers under >= 95%% of the native leaf samples: %d of %d ns", underJava, inNative)
		}
		if float64(unknown) > 0.02*float64(all) {
			t.Errorf("want <= 2%% of samples without their Java stack: %d of %d ns", unknown, all)
		}
	})
}

// Allocation: two methods allocating 3:1 by bytes; the class is the leaf.
func TestAllocShares(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		out := filepath.Join(t.TempDir(), "alloc.pb.gz")
		mustRun(t, j, "start,event=alloc,alloc_interval=512k,file="+out, "Alloc", "3")
		p := readProfile(t, out)
		if len(p.SampleType) != 2 || p.SampleType[0].Type != "alloc_objects" || p.SampleType[0].Unit != "count" ||
			p.SampleType[1].Type != "alloc_space" || p.SampleType[1].Unit != "bytes" {
			t.Fatalf("sample types %v %v", p.SampleType[0], p.SampleType[1])
		}
		vi := valueIndex(t, p, "alloc_space")
		big := total(p, vi, "byte[]", "com.example.Alloc.allocBig")
		small := total(p, vi, "byte[]", "com.example.Alloc.allocSmall")
		s := share(big, small)
		t.Logf("allocBig %.1f%% allocSmall %.1f%%", s, 100-s)
		if s < 65 || s > 85 {
			t.Errorf("allocBig:allocSmall by bytes = %.1f%%, want 75%% +- 10", s)
		}
		for _, smp := range p.Sample {
			fr := names(smp)
			if i := indexOf(fr, "com.example.Alloc.allocBig"); i >= 0 && (i != 1 || fr[0] != "byte[]") {
				t.Fatalf("want byte[] as the leaf right under allocBig: %v", fr)
			}
		}
	})
}

// Wall mode: threads that sleep or wait on a lock are sampled all along.
func TestWallBlockedThreads(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		out := filepath.Join(t.TempDir(), "wall.pb.gz")
		mustRun(t, j, "start,event=wall,interval=10ms,file="+out, "Sleepy", "3")
		p := readProfile(t, out)
		vi := valueIndex(t, p, "wall")
		sleeping := total(p, vi, "java.lang.Thread.sleep", "com.example.Sleepy.sleeper")
		// The waiter blocks on a monitor: from interpreted code AGCT gives
		// its Java frames; from compiled code HotSpot's walker gives up
		// ("[not_walkable_not_Java]"), and the native frames still show
		// the wait. Either way the thread is sampled all along.
		waiting := labelTotal(p, vi, "thread_name", "waiter")
		monitor := labelTotal(p, vi, "thread_name", "waiter", "ObjectMonitor::enter(JavaThread*)")
		t.Logf("sleeper in Thread.sleep %.2fs, waiter %.2fs", float64(sleeping)/1e9, float64(waiting)/1e9)
		// Ticks a loaded machine delays are carried by the next signals;
		// the margin (a third of the 3 s) leaves room for threads a loaded
		// machine starts late.
		if sleeping < 1e9 {
			t.Errorf("sleeper's wall time in Thread.sleep %.2fs, want most of 3s", float64(sleeping)/1e9)
		}
		if waiting < 1e9 {
			t.Errorf("waiter's wall time %.2fs, want most of 3s", float64(waiting)/1e9)
		}
		if monitor < waiting/2 {
			t.Errorf("waiter's time in ObjectMonitor::enter %.2fs of %.2fs, want most", float64(monitor)/1e9,
				float64(waiting)/1e9)
		}
		// Threads are labelled with their Java names.
		named := false
		for _, smp := range p.Sample {
			if len(smp.Label["thread_name"]) > 0 && smp.Label["thread_name"][0] == "sleeper" {
				named = true
			}
		}
		if !named {
			t.Errorf("no sample labelled thread_name=sleeper")
		}
	})
}

// A bad option string: one line naming the key on stderr, and the JVM runs
// on without the profiler.
func TestBadOptions(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		dir := t.TempDir()
		cases := []struct{ options, key string }{
			{"start,event=gpu,file=" + dir + "/a.pb.gz", "'event'"},
			{"start,interval=fast,file=" + dir + "/a.pb.gz", "'interval'"},
			{"start,bogus=1,file=" + dir + "/a.pb.gz", "'bogus'"},
			{"start,event=alloc,alloc_interval=lots,file=" + dir + "/a.pb.gz", "'alloc_interval'"},
			{"start,event=cpu", "'file'"},
			{"start,file=" + dir + "/a.unknown", "'file'"},
			{"start,file=" + dir + "/no/such/dir/a.pb.gz", "'file'"},
			{"trigger_cooldown=soon", "'trigger_cooldown'"},
			{"rate_limit=0/60s", "'rate_limit'"},
			{"continuous,event=alloc,store=" + dir + "/s", "'continuous'"},
		}
		for _, c := range cases {
			r := mustRun(t, j, c.options, "Burn", "0")
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "polyprof: ") || !strings.Contains(lines[0], c.key) {
				t.Errorf("options %q: want one stderr line naming %s, got %q", c.options, c.key, r.stderr)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("a refused profiler wrote files: %v", entries)
		}
	})
}

// Many short-lived threads, heavy GC and class unloading, sampled fast in
// both modes: no crash, a valid profile.
func TestThreadChurn(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		for _, ev := range []string{"cpu", "wall"} {
			out := filepath.Join(t.TempDir(), "churn-"+ev+".pb.gz")
			mustRun(t, j, "start,event="+ev+",interval=2ms,file="+out, "Churn", "3")
			p := readProfile(t, out)
			if total(p, 0, "com.example.Churn.work") == 0 {
				t.Errorf("%s: no samples in the short threads' work()", ev)
			}
		}
	})
}

// duration: the profile is written when it ends (the JVM runs on), and the
// collapsed format is picked by the suffix.
func TestDurationAndCollapsed(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		out := filepath.Join(t.TempDir(), "burn.folded")
		mustRun(t, j, "start,event=cpu,duration=1s,file="+out, "Burn", "3")
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			i := strings.LastIndexByte(line, ' ')
			// main's own code (its loop, nanoTime inlined into it) is a
			// stack of main alone.
			mainThread := i >= 0 && (strings.HasPrefix(line, "com.example.Burn.main;") || line[:i] == "com.example.Burn.main")
			if i < 0 || !mainThread && strings.Contains(line, "Burn") {
				t.Fatalf("bad collapsed line %q", line)
			}
			v, err := strconv.ParseInt(line[i+1:], 10, 64)
			if err != nil {
				t.Fatalf("bad collapsed line %q: %v", line, err)
			}
			// The main thread only: the JIT's threads burn CPU of their own.
			if mainThread {
				sum += v
			}
		}
		// At most the 1 s duration of the main thread's CPU (in ns), not
		// the 3 s it ran; at least some of it even on a loaded machine.
		if sum < 2e8 || sum > 1.2e9 {
			t.Errorf("main thread's collapsed total %.2fs of CPU, want up to the 1s duration", float64(sum)/1e9)
		}
	})
}
