package jvmtests

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// The local endpoint in the JVM: -agentpath:libpolyprof.so=endpoint=127.0.0.1:0
// serves Go's /debug/pprof routes; the agent says the bound address on
// stderr ("polyprof: serving profiles on 127.0.0.1:PORT ...").

var servingLine = regexp.MustCompile(`polyprof: serving profiles on (127\.0\.0\.1:\d+)`)

// startServing runs a workload with the agent and returns the endpoint's
// address once the agent has said it; the JVM is killed when the test ends.
func startServing(t *testing.T, j jdk, options, class string, args ...string) (addr string, stderr func() string) {
	t.Helper()
	return startServingEnv(t, j, nil, options, class, args...)
}

// startServingEnv: startServing with extra environment variables (NAME=value).
func startServingEnv(t *testing.T, j jdk, env []string, options, class string, args ...string) (addr string, stderr func() string) {
	t.Helper()
	cmd := javaCommand(j, env, options, class, args...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("java: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	var all bytes.Buffer
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pipe)
	}()
	select {
	case addr = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("the agent did not say where it serves in 30 s; stderr:\n%s", all.String())
	}
	return addr, func() string { return all.String() }
}

func pprofTopURL(t *testing.T, url string) string {
	t.Helper()
	cmd := exec.Command("go", "tool", "pprof", "-top", url)
	cmd.Env = append(os.Environ(), "PPROF_TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "flat%") {
		t.Fatalf("go tool pprof -top %s: %v\n%s", url, err, out)
	}
	return string(out)
}

// cumShare: the cum% of function name in `go tool pprof -top` output, -1 when absent.
func cumShare(top, name string) float64 {
	for _, line := range strings.Split(top, "\n") {
		f := strings.Fields(line)
		if len(f) == 6 && f[5] == name {
			v, err := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// A 3 s capture from the endpoint at addr, read by go tool pprof: Burn's
// heavy method above its light one, both under main.
func checkBurnCapture(t *testing.T, addr string, stderr func() string) {
	t.Helper()
	top := pprofTopURL(t, "http://"+addr+"/debug/pprof/profile?seconds=3")
	heavy, light := cumShare(top, "com.example.Burn.heavy"), cumShare(top, "com.example.Burn.light")
	t.Logf("heavy %.1f%% light %.1f%%", heavy, light)
	if heavy < 40 || light < 0 || heavy <= light || cumShare(top, "com.example.Burn.main") < heavy {
		t.Errorf("want com.example.Burn.heavy above light, under main:\n%s\nstderr:\n%s", top, stderr())
	}
}

// go tool pprof against the endpoint of a JVM that samples nothing else:
// the hot Java method, named through JVMTI on the core's threads.
func TestEndpointCPU(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		// Without start: the production configuration (1% CPU budget), at
		// Go's 100 Hz rather than its 10 Hz default.
		addr, stderr := startServing(t, j, "endpoint=127.0.0.1:0,interval=10ms", "Burn", "60")
		code, body := httpGet(t, "http://"+addr+"/polyprof/status")
		if code != 200 || !strings.Contains(string(body), `"runtime": "jvm"`) ||
			!strings.Contains(string(body), `"sampler_running": false`) {
			t.Fatalf("status %d: %s", code, body)
		}
		checkBurnCapture(t, addr, stderr)
		// Still serving, the sampler stopped again.
		if code, body := httpGet(t, "http://"+addr+"/polyprof/status"); code != 200 ||
			!strings.Contains(string(body), `"sampler_running": false`) {
			t.Errorf("status after the capture %d: %s", code, body)
		}
		if code, body := httpGet(t, "http://"+addr+"/debug/pprof/allocs"); code != 404 ||
			!strings.Contains(string(body), "event=alloc") {
			t.Errorf("allocs without allocation sampling: %d %s", code, body)
		}
		// A refused address: one line, and the JVM runs on.
		r := mustRun(t, j, "endpoint=10.1.2.3:6060", "Burn", "1")
		if !strings.Contains(r.stderr, "polyprof: the endpoint stays off: option 'endpoint': 10.1.2.3:6060 is not a loopback address") {
			t.Errorf("stderr: %s", r.stderr)
		}
	})
}

// The endpoint from the environment: POLYPROF_OPTIONS=endpoint=127.0.0.1:0
// with no endpoint in the -agentpath options (only interval=10ms, which
// applies on top of the environment) serves the same CPU profiles.
func TestEndpointFromEnvironment(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		addr, stderr := startServingEnv(t, j, []string{"POLYPROF_OPTIONS=endpoint=127.0.0.1:0"}, "interval=10ms", "Burn", "60")
		code, body := httpGet(t, "http://"+addr+"/polyprof/status")
		if code != 200 || !strings.Contains(string(body), `"runtime": "jvm"`) {
			t.Fatalf("status %d: %s", code, body)
		}
		checkBurnCapture(t, addr, stderr)
	})
}

// With start,event=alloc the endpoint serves the sampled allocations so far
// (and CPU captures with Java frames all the same).
func TestEndpointAllocs(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		out := filepath.Join(t.TempDir(), "alloc.pb.gz")
		addr, stderr := startServing(t, j, "start,event=alloc,alloc_interval=256k,file="+out+",endpoint=127.0.0.1:0",
			"Alloc", "60")
		time.Sleep(2 * time.Second)
		code, body := httpGet(t, "http://"+addr+"/debug/pprof/allocs")
		if code != 200 {
			t.Fatalf("allocs: %d %s\nstderr:\n%s", code, body, stderr())
		}
		p, err := profile.ParseData(body)
		if err != nil {
			t.Fatalf("allocs is not a pprof profile: %v", err)
		}
		vi := valueIndex(t, p, "alloc_space")
		big := total(p, vi, "byte[]", "com.example.Alloc.allocBig")
		small := total(p, vi, "byte[]", "com.example.Alloc.allocSmall")
		if big <= small || small <= 0 {
			t.Errorf("allocBig %d bytes, allocSmall %d: want both, allocBig more", big, small)
		}
		if code, body := httpGet(t, "http://"+addr+"/debug/pprof/heap"); code != 404 ||
			!strings.Contains(string(body), "/debug/pprof/allocs") {
			t.Errorf("heap: %d %s", code, body)
		}
		top := pprofTopURL(t, "http://"+addr+"/debug/pprof/profile?seconds=1")
		if cumShare(top, "com.example.Alloc.main") < 20 {
			t.Errorf("CPU capture next to allocation sampling without Java frames:\n%s", top)
		}
	})
}
