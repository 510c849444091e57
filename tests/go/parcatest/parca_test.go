// Parca, a continuous-profiling server we did not write, scrapes a Python
// process's profiling endpoint as it scrapes Go programs (its process_cpu
// profile: GET /debug/pprof/profile?seconds=N), stores what it got, and
// gives it back through its query API (QueryService.ProfileTypes and Query,
// in the grpc-gateway JSON form under /api); the function the process burns
// CPU in must be there, with most of the CPU.
//
//	PARCA=build/parca/parca POLYPROF_PYTHON=python3 go test ./...
package parcatest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

const burnFunction = "parca_burn_target"

// A config with one job: the endpoint as its only target, only the CPU
// profile enabled (Go's other default profiles are not served), a scrape
// every 3 s of a 2 s capture.
const parcaConfig = `object_storage:
  bucket:
    type: "FILESYSTEM"
    config:
      directory: %q
scrape_configs:
  - job_name: "polyprof"
    scrape_interval: "3s"
    scrape_timeout: "10s"
    static_configs:
      - targets: [%q]
    profiling_config:
      pprof_config:
        memory: {enabled: false}
        block: {enabled: false}
        goroutine: {enabled: false}
        mutex: {enabled: false}
        process_cpu:
          enabled: true
          path: /debug/pprof/profile
          delta: true
          seconds: 2
`

// logBuffer collects a child's output while the test may read it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func tail(b *logBuffer, n int) string {
	b.mu.Lock()
	s := b.buf.String()
	b.mu.Unlock()
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// endOnCleanup asks the child to end with `ask` when the test ends, and
// kills it if it has not after 10 s.
func endOnCleanup(t *testing.T, cmd *exec.Cmd, ask func()) {
	t.Cleanup(func() {
		ask()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startWorkload runs tests/python/workloads/serve_burn.py, burning CPU in
// burnFunction, and returns its endpoint's address.
func startWorkload(ctx context.Context, t *testing.T, python string) (string, *logBuffer) {
	workload := filepath.Join("..", "..", "python", "workloads", "serve_burn.py")
	cmd := exec.CommandContext(ctx, python, workload, burnFunction)
	stderr := &logBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe() // the workload exits when this closes
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", python, err)
	}
	endOnCleanup(t, cmd, func() { stdin.Close() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "endpoint=") {
				lines <- strings.TrimPrefix(sc.Text(), "endpoint=")
			}
		}
		close(lines)
	}()
	select {
	case addr, ok := <-lines:
		if !ok {
			t.Fatalf("the workload (%s %s) exited without serving its endpoint:\n%s", python, workload, tail(stderr, 3000))
		}
		return addr, stderr
	case <-time.After(20 * time.Second):
		t.Fatalf("the workload did not report its endpoint within 20 s:\n%s", tail(stderr, 3000))
	}
	return "", nil
}

func startParca(ctx context.Context, t *testing.T, parca, target string) (string, *logBuffer) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "parca.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(parcaConfig, filepath.Join(dir, "data"), target)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.CommandContext(ctx, parca, "--config-path="+cfg, "--http-address="+addr,
		"--storage-active-memory=134217728", "--debuginfo-cache-dir="+dir)
	cmd.Dir = dir
	logs := &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting parca (%s): %v", parca, err)
	}
	endOnCleanup(t, cmd, func() { cmd.Process.Signal(os.Interrupt) })
	return addr, logs
}

func getJSON(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: HTTP %d: %.300s", u, resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

type profileType struct {
	Name       string `json:"name"`
	SampleType string `json:"sampleType"`
	SampleUnit string `json:"sampleUnit"`
	PeriodType string `json:"periodType"`
	PeriodUnit string `json:"periodUnit"`
	Delta      bool   `json:"delta"`
}

func (p profileType) query(selector string) string {
	q := strings.Join([]string{p.Name, p.SampleType, p.SampleUnit, p.PeriodType, p.PeriodUnit}, ":")
	if p.Delta {
		q += ":delta"
	}
	return q + selector
}

func TestParcaScrapesTheEndpointAndQueriesTheBurningFunction(t *testing.T) {
	parca := os.Getenv("PARCA")
	if parca == "" {
		t.Fatal("PARCA is not set: it names the parca binary (tests/parca/build_parca.sh builds it)")
	}
	python := os.Getenv("POLYPROF_PYTHON")
	if python == "" {
		python = "python3"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	started := time.Now()

	target, workloadLog := startWorkload(ctx, t, python)
	api, parcaLog := startParca(ctx, t, parca, target)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\n--- parca's log:\n%s\n--- the workload's stderr:\n%s", append(args,
			tail(parcaLog, 4000), tail(workloadLog, 2000))...)
	}

	// Wait for the first scrape to be stored: its profile types appear.
	var cpu *profileType
	deadline := time.Now().Add(45 * time.Second)
	var lastErr error
	for cpu == nil && time.Now().Before(deadline) {
		var types struct {
			Types []profileType `json:"types"`
		}
		if lastErr = getJSON(ctx, "http://"+api+"/api/profiles/types", &types); lastErr == nil {
			for i, ty := range types.Types {
				if ty.Name == "process_cpu" && ty.SampleType == "cpu" {
					cpu = &types.Types[i]
				}
			}
		}
		if cpu == nil {
			time.Sleep(500 * time.Millisecond)
		}
	}
	if cpu == nil {
		fail("no process_cpu profile in parca after 45 s (last error: %v)", lastErr)
	}
	t.Logf("first scrape stored after %.1fs: %s", time.Since(started).Seconds(), cpu.query(""))

	// The merged profile of the job, as pprof.
	q := url.Values{}
	q.Set("mode", "MODE_MERGE")
	q.Set("reportType", "REPORT_TYPE_PPROF")
	q.Set("merge.query", cpu.query(`{job="polyprof"}`))
	q.Set("merge.start", started.Add(-time.Minute).UTC().Format(time.RFC3339))
	q.Set("merge.end", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	var res struct {
		Pprof string `json:"pprof"`
	}
	if err := getJSON(ctx, "http://"+api+"/api/profiles/query?"+q.Encode(), &res); err != nil {
		fail("query: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(res.Pprof)
	if err != nil {
		fail("query: the pprof field is not base64: %v", err)
	}
	p, err := profile.ParseData(raw)
	if err != nil {
		fail("query: parca's pprof does not parse: %v", err)
	}
	var total, inBurn int64
	for _, s := range p.Sample {
		v := s.Value[len(s.Value)-1]
		total += v
		if stackHas(s, burnFunction) {
			inBurn += v
		}
	}
	if total == 0 {
		fail("parca's profile has no CPU time (%d samples)", len(p.Sample))
	}
	share := float64(inBurn) / float64(total)
	t.Logf("%s: %.0f%% of %.2fs CPU, %d stacks; whole test %.1fs", burnFunction, 100*share,
		float64(total)/1e9, len(p.Sample), time.Since(started).Seconds())
	// The workload's main thread burns in that function and little else runs.
	if share < 0.5 {
		fail("%s has %.0f%% of the CPU in parca's profile, expected most of it", burnFunction, 100*share)
	}
}

func stackHas(s *profile.Sample, name string) bool {
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			if line.Function != nil && line.Function.Name == name {
				return true
			}
		}
	}
	return false
}
