// javacloss: what a user checks in a profile of javac, for polyprof's pprof
// and async-profiler's collapsed output (taken with its `threads` option)
// alike: the share of samples with a loss frame (any bracketed frame:
// [unknown_Java], [gc_active], ...), over all samples and over the main
// thread's, the main thread's share under JavaCompiler.compile, and the
// share of leaves that are unnamed native addresses (lib....so+0x...).
//
//	go run . [-tsv] FILE...   (FILE: *.pb.gz from polyprof, *.collapsed from async-profiler)
//
// -tsv: one line per file: path, loss % of all, loss % of main's, main's %
// under JavaCompiler.compile, unnamed leaves %.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/pprof/profile"
)

type stack struct {
	frames []string // root first
	main   bool
	weight int64
}

var unnamed = regexp.MustCompile(`^(\[unknown\]|.*\.so[.0-9]*)\+0x[0-9a-f]+$`)

func isLoss(f string) bool {
	return strings.HasPrefix(f, "[") && strings.HasSuffix(f, "]") && !strings.Contains(f, " tid=")
}

func readPprof(path string) ([]stack, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, err
	}
	vi := 0
	for i, st := range p.SampleType {
		if st.Type == "samples" {
			vi = i
		}
	}
	var out []stack
	for _, s := range p.Sample {
		var fr []string
		for _, loc := range s.Location {
			for _, ln := range loc.Line {
				fr = append(fr, ln.Function.Name)
			}
			if len(loc.Line) == 0 {
				fr = append(fr, fmt.Sprintf("0x%x", loc.Address))
			}
		}
		for i, j := 0, len(fr)-1; i < j; i, j = i+1, j-1 {
			fr[i], fr[j] = fr[j], fr[i]
		}
		main := len(s.Label["thread_name"]) > 0 && s.Label["thread_name"][0] == "main"
		out = append(out, stack{fr, main, s.Value[vi]})
	}
	return out, nil
}

func readCollapsed(path string) ([]stack, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []stack
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		n, err := strconv.ParseInt(line[sp+1:], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q", path, line)
		}
		// async-profiler writes class names with slashes.
		fr := strings.Split(strings.ReplaceAll(line[:sp], "/", "."), ";")
		// The main thread is renamed DestroyJavaVM when main returns,
		// before async-profiler writes its names.
		main := len(fr) > 0 && (strings.HasPrefix(fr[0], "[main tid=") || strings.HasPrefix(fr[0], "[DestroyJavaVM tid="))
		out = append(out, stack{fr, main, n})
	}
	return out, sc.Err()
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func main() {
	args := os.Args[1:]
	tsv := len(args) > 0 && args[0] == "-tsv"
	if tsv {
		args = args[1:]
	}
	for _, path := range args {
		var st []stack
		var err error
		if strings.HasSuffix(path, ".pb.gz") {
			st, err = readPprof(path)
		} else {
			st, err = readCollapsed(path)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var all, loss, mainAll, mainLoss, mainCompile, leafUnnamed int64
		lossBy := map[string]int64{}
		unnamedBy := map[string]int64{}
		for _, s := range st {
			all += s.weight
			lost, compile := false, false
			for _, f := range s.frames {
				if isLoss(f) && !lost {
					lost = true
					lossBy[f] += s.weight
				}
				compile = compile || strings.HasPrefix(f, "com.sun.tools.javac.main.JavaCompiler.compile")
			}
			if len(s.frames) > 0 && unnamed.MatchString(s.frames[len(s.frames)-1]) {
				leafUnnamed += s.weight
				lib := s.frames[len(s.frames)-1]
				unnamedBy[lib[:strings.Index(lib, "+0x")]] += s.weight
			}
			if lost {
				loss += s.weight
			}
			if s.main {
				mainAll += s.weight
				if lost {
					mainLoss += s.weight
				}
				if compile {
					mainCompile += s.weight
				}
			}
		}
		if tsv {
			fmt.Printf("%s\t%.2f\t%.2f\t%.2f\t%.2f\n", path, pct(loss, all), pct(mainLoss, mainAll), pct(mainCompile, mainAll), pct(leafUnnamed, all))
			continue
		}
		fmt.Printf("%s: samples %d, loss %.1f%%, main %d: loss %.1f%%, under JavaCompiler.compile %.1f%%, unnamed leaves %.1f%%\n",
			path, all, pct(loss, all), mainAll, pct(mainLoss, mainAll), pct(mainCompile, mainAll), pct(leafUnnamed, all))
		for f, n := range lossBy {
			if pct(n, all) >= 0.3 {
				fmt.Printf("    %-28s %.1f%%\n", f, pct(n, all))
			}
		}
		for f, n := range unnamedBy {
			if pct(n, all) >= 0.3 {
				fmt.Printf("    unnamed leaf in %-16s %.1f%%\n", f, pct(n, all))
			}
		}
	}
}
