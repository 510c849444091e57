package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// fixture builds a small profile the way polyprof shapes its own: two value
// types, a native location in a mapping, an inlined pair, thread labels.
func fixture() *profile.Profile {
	m := &profile.Mapping{ID: 1, Start: 0x1000, Limit: 0x2000, File: "/lib/libz.so.1", HasFunctions: true}
	deflate := &profile.Function{ID: 1, Name: "deflate"}
	handler := &profile.Function{ID: 2, Name: "handler", Filename: "app.py", StartLine: 10}
	helper := &profile.Function{ID: 3, Name: "helper", Filename: "app.py", StartLine: 3}
	mainFn := &profile.Function{ID: 4, Name: "main", Filename: "app.py", StartLine: 28}
	l1 := &profile.Location{ID: 1, Mapping: m, Address: 0x1234, Line: []profile.Line{{Function: deflate}}}
	l2 := &profile.Location{ID: 2, Line: []profile.Line{{Function: helper, Line: 4}, {Function: handler, Line: 12}}}
	l3 := &profile.Location{ID: 3, Line: []profile.Line{{Function: mainFn, Line: 30}}}
	return &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        10000000,
		DurationNanos: 1000000000,
		Comments:      []string{"polyprof=test"},
		Mapping:       []*profile.Mapping{m},
		Function:      []*profile.Function{deflate, handler, helper, mainFn},
		Location:      []*profile.Location{l1, l2, l3},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{l1, l2, l3}, Value: []int64{3, 30000000},
				Label: map[string][]string{"thread_name": {"MainThread"}}, NumLabel: map[string][]int64{"thread_id": {101}}},
			{Location: []*profile.Location{l3}, Value: []int64{1, 10000000}},
		},
	}
}

func writeFixture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fixture.pb.gz")
	var buf bytes.Buffer
	if err := fixture().Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSummary(t *testing.T) {
	f, err := os.Open(writeFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := check(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]string{{"samples", "count"}, {"cpu", "nanoseconds"}}; !reflect.DeepEqual(s.SampleTypes, want) {
		t.Errorf("sample types %v, want %v", s.SampleTypes, want)
	}
	if !reflect.DeepEqual(s.Totals, []int64{4, 40000000}) {
		t.Errorf("totals %v", s.Totals)
	}
	if s.Period != 10000000 || s.DurationNanos != 1000000000 || !reflect.DeepEqual(s.PeriodType, []string{"cpu", "nanoseconds"}) {
		t.Errorf("period %v %v duration %v", s.PeriodType, s.Period, s.DurationNanos)
	}
	if len(s.Samples) != 2 {
		t.Fatalf("%d samples", len(s.Samples))
	}
	s0 := s.Samples[0]
	if want := []string{"deflate", "helper", "handler", "main"}; !reflect.DeepEqual(s0.Stack, want) {
		t.Errorf("stack %v, want %v (inlined lines expanded, leaf first)", s0.Stack, want)
	}
	if want := []int64{0, 4, 12, 30}; !reflect.DeepEqual(s0.Lines, want) {
		t.Errorf("lines %v, want %v", s0.Lines, want)
	}
	if want := []string{"", "app.py", "app.py", "app.py"}; !reflect.DeepEqual(s0.Files, want) {
		t.Errorf("files %v, want %v", s0.Files, want)
	}
	if !reflect.DeepEqual(s0.Labels["thread_name"], []string{"MainThread"}) ||
		!reflect.DeepEqual(s0.NumLabels["thread_id"], []int64{101}) {
		t.Errorf("labels %v %v", s0.Labels, s0.NumLabels)
	}
	if !reflect.DeepEqual(s.Comments, []string{"polyprof=test"}) {
		t.Errorf("comments %v", s.Comments)
	}
}

func TestInvalid(t *testing.T) {
	if _, err := check(strings.NewReader("not a profile")); err == nil {
		t.Error("garbage parsed without error")
	}
	// a sample whose value count does not match the sample types
	p := fixture()
	p.Sample[1].Value = []int64{1}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := check(&buf); err == nil {
		t.Error("invalid profile passed CheckValid")
	}
}

// TestBinary runs the command itself: JSON on stdout, exit 1 on bad input.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "pprofcheck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, writeFixture(t)).Output()
	if err != nil {
		t.Fatal(err)
	}
	var s summary
	if err := json.Unmarshal(out, &s); err != nil || len(s.Samples) != 2 {
		t.Fatalf("output %s: %v", out, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.pb.gz")
	os.WriteFile(bad, []byte("garbage"), 0o644)
	cmd := exec.Command(bin, bad)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 1 || stderr.Len() == 0 {
		t.Errorf("bad input: err %v, stderr %q", err, stderr.String())
	}
}
