// pprofcheck is an independent reader for polyprof's pprof output: it parses
// a profile with github.com/google/pprof (the parser `go tool pprof` uses),
// runs its validity checks and prints what it understood as JSON, so tests
// can compare that with what the C core meant to write.
//
// Usage: pprofcheck FILE. Exit status 1 with the error on stderr when the
// file does not parse or is not valid.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/google/pprof/profile"
)

type sample struct {
	Stack     []string            `json:"stack"` // leaf first, one entry per Line
	Files     []string            `json:"files"`
	Lines     []int64             `json:"lines"`
	Values    []int64             `json:"values"`
	Labels    map[string][]string `json:"labels"`
	NumLabels map[string][]int64  `json:"num_labels"`
}

type summary struct {
	SampleTypes   [][2]string `json:"sample_types"`
	PeriodType    []string    `json:"period_type"`
	Period        int64       `json:"period"`
	DurationNanos int64       `json:"duration_nanos"`
	Totals        []int64     `json:"totals"`
	Samples       []sample    `json:"samples"`
	Comments      []string    `json:"comments"`
}

func summarize(p *profile.Profile) summary {
	s := summary{
		SampleTypes:   [][2]string{},
		PeriodType:    []string{},
		Period:        p.Period,
		DurationNanos: p.DurationNanos,
		Totals:        make([]int64, len(p.SampleType)),
		Samples:       []sample{},
		Comments:      append([]string{}, p.Comments...),
	}
	for _, st := range p.SampleType {
		s.SampleTypes = append(s.SampleTypes, [2]string{st.Type, st.Unit})
	}
	if p.PeriodType != nil {
		s.PeriodType = []string{p.PeriodType.Type, p.PeriodType.Unit}
	}
	for _, ps := range p.Sample {
		out := sample{
			Stack:     []string{},
			Files:     []string{},
			Lines:     []int64{},
			Values:    append([]int64{}, ps.Value...),
			Labels:    map[string][]string{},
			NumLabels: map[string][]int64{},
		}
		for i, v := range ps.Value {
			s.Totals[i] += v
		}
		for _, loc := range ps.Location {
			if len(loc.Line) == 0 {
				out.Stack = append(out.Stack, fmt.Sprintf("0x%x", loc.Address))
				out.Files = append(out.Files, "")
				out.Lines = append(out.Lines, 0)
			}
			for _, ln := range loc.Line {
				name, file := "", ""
				if ln.Function != nil {
					name, file = ln.Function.Name, ln.Function.Filename
				}
				out.Stack = append(out.Stack, name)
				out.Files = append(out.Files, file)
				out.Lines = append(out.Lines, ln.Line)
			}
		}
		for k, v := range ps.Label {
			out.Labels[k] = v
		}
		for k, v := range ps.NumLabel {
			out.NumLabels[k] = v
		}
		s.Samples = append(s.Samples, out)
	}
	return s
}

func check(r io.Reader) (summary, error) {
	p, err := profile.Parse(r)
	if err != nil {
		return summary{}, err
	}
	if err := p.CheckValid(); err != nil {
		return summary{}, fmt.Errorf("invalid profile: %w", err)
	}
	return summarize(p), nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: pprofcheck FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	s, err := check(f)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
