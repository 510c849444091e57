// End-to-end tests of the JVM agent: Java workloads compiled with each JDK's
// javac run under -agentpath; the profiles are read with
// github.com/google/pprof (the parser `go tool pprof` uses), with
// `go tool pprof -top`, and with tests/go/pprofcheck. Assertions are stack
// paths present or absent and shares within a tolerance, never exact counts.
//
//	cd tests/jvm && go test ./...                 # every JDK under /usr/lib/jvm
//	JDKS="/usr/lib/jvm/temurin-25-jdk-amd64" go test ./...
//	POLYPROF_AGENT=/path/libpolyprof.so go test ./...   # a prebuilt agent
package jvmtests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

var (
	repoRoot  string
	agentPath string
	apiJar    string // polyprof-api.jar, built next to the agent
	checker   string
	jdks      []jdk
	setupErr  error
)

type jdk struct {
	home    string
	name    string // "17", "25"
	classes string // workloads compiled by this JDK's javac
}

func TestMain(m *testing.M) {
	setupErr = setup()
	code := m.Run()
	os.Exit(code)
}

func setup() error {
	wd, _ := os.Getwd()
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	tmp, err := os.MkdirTemp("", "polyprof-jvm-")
	if err != nil {
		return err
	}
	agentPath = os.Getenv("POLYPROF_AGENT")
	if agentPath == "" {
		build := filepath.Join(tmp, "build")
		for _, args := range [][]string{
			{"cmake", "-S", repoRoot, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"},
			{"cmake", "--build", build, "--target", "polyprof_jvm"},
		} {
			if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
				return fmt.Errorf("building the agent (%s): %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		agentPath = filepath.Join(build, "jvm-agent", "libpolyprof.so")
	}
	if _, err := os.Stat(agentPath); err != nil {
		return fmt.Errorf("agent not found: %v", err)
	}
	apiJar = filepath.Join(filepath.Dir(agentPath), "polyprof-api.jar")
	if _, err := os.Stat(apiJar); err != nil {
		return fmt.Errorf("the Java API jar is built with the agent: %v", err)
	}
	checker = filepath.Join(tmp, "pprofcheck")
	cmd := exec.Command("go", "build", "-o", checker, ".")
	cmd.Dir = filepath.Join(repoRoot, "tests", "go", "pprofcheck")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building pprofcheck: %v\n%s", err, out)
	}
	homes := strings.Fields(os.Getenv("JDKS"))
	if len(homes) == 0 {
		homes = probeJDKs()
	}
	if len(homes) == 0 {
		return fmt.Errorf("no JDK found: looked for /usr/lib/jvm/*/bin/javac (or set JDKS)")
	}
	sources, _ := filepath.Glob(filepath.Join(repoRoot, "tests", "jvm", "workloads", "com", "example", "*.java"))
	for _, home := range homes {
		j := jdk{home: home, name: jdkVersion(home)}
		j.classes = filepath.Join(tmp, "classes-"+j.name)
		args := append([]string{"--release", "17", "-cp", apiJar, "-d", j.classes}, sources...)
		if out, err := exec.Command(filepath.Join(home, "bin", "javac"), args...).CombinedOutput(); err != nil {
			return fmt.Errorf("javac of %s: %v\n%s", home, err, out)
		}
		jdks = append(jdks, j)
	}
	return nil
}

// probeJDKs: one home per JDK major version under /usr/lib/jvm (Debian keeps
// symlinked aliases of the same JDK).
func probeJDKs() []string {
	dirs, _ := filepath.Glob("/usr/lib/jvm/*")
	seen := map[string]string{}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "bin", "javac")); err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(d)
		if err != nil {
			continue
		}
		v := jdkVersion(real)
		if _, ok := seen[v]; !ok {
			seen[v] = real
		}
	}
	var out []string
	for _, h := range seen {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

func jdkVersion(home string) string {
	data, err := os.ReadFile(filepath.Join(home, "release"))
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "JAVA_VERSION=") {
				v := strings.Trim(strings.TrimPrefix(line, "JAVA_VERSION="), "\"")
				return strings.SplitN(v, ".", 2)[0]
			}
		}
	}
	return filepath.Base(home)
}

// forEachJDK runs fn as a subtest per JDK.
func forEachJDK(t *testing.T, fn func(t *testing.T, j jdk)) {
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	for _, j := range jdks {
		j := j
		t.Run("jdk"+j.name, func(t *testing.T) { fn(t, j) })
	}
}

type run struct {
	stdout, stderr string
	exit           int
}

// runJava runs a workload class with the agent and the given options
// (empty: no agent).
func runJava(t *testing.T, j jdk, options string, class string, args ...string) run {
	t.Helper()
	return runJavaEnv(t, j, nil, options, class, args...)
}

// javaCommand: the JVM running a workload class with the agent and the
// given options ("-": no agent), extra environment variables (NAME=value).
func javaCommand(j jdk, env []string, options string, class string, args ...string) *exec.Cmd {
	var cmdArgs []string
	if options != "-" {
		cmdArgs = append(cmdArgs, "-agentpath:"+agentPath+"="+options)
	}
	cmdArgs = append(cmdArgs, "-Xmx256m", "-cp", j.classes+string(os.PathListSeparator)+apiJar, "com.example."+class)
	cmdArgs = append(cmdArgs, args...)
	cmd := exec.Command(filepath.Join(j.home, "bin", "java"), cmdArgs...)
	// The production variables come only from the test: the runner's own
	// environment must not turn profiling on (nor add JVM options).
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ENABLE_PROFILING=") && !strings.HasPrefix(kv, "PROFILE_") &&
			!strings.HasPrefix(kv, "POLYPROF_") && !strings.HasPrefix(kv, "JAVA_TOOL_OPTIONS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// runJavaEnv: runJava with extra environment variables (NAME=value).
func runJavaEnv(t *testing.T, j jdk, env []string, options string, class string, args ...string) run {
	t.Helper()
	return runCommand(t, javaCommand(j, env, options, class, args...))
}

// runCommand runs a java command to its end, keeping its output and exit code.
func runCommand(t *testing.T, cmd *exec.Cmd) run {
	t.Helper()
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := run{so.String(), se.String(), 0}
	if ee, ok := err.(*exec.ExitError); ok {
		r.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("java: %v", err)
	}
	return r
}

// mustRun: the workload exits 0 and prints "done".
func mustRun(t *testing.T, j jdk, options, class string, args ...string) run {
	t.Helper()
	return mustRunEnv(t, j, nil, options, class, args...)
}

func mustRunEnv(t *testing.T, j jdk, env []string, options, class string, args ...string) run {
	t.Helper()
	r := runJavaEnv(t, j, env, options, class, args...)
	if r.exit != 0 || !strings.Contains(r.stdout, "done") {
		t.Fatalf("java %s (agent %q) exit %d\nstdout: %s\nstderr: %s", class, options, r.exit, r.stdout, r.stderr)
	}
	return r
}

// readProfile parses a pprof file, runs pprofcheck and `go tool pprof -top` on it.
func readProfile(t *testing.T, path string) *profile.Profile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("profile not written: %v", err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatalf("invalid %s: %v", path, err)
	}
	if out, err := exec.Command(checker, path).CombinedOutput(); err != nil {
		t.Fatalf("pprofcheck %s: %v\n%s", path, err, out)
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "flat%") {
		t.Fatalf("go tool pprof -top %s: %v\n%s", path, err, out)
	}
	return p
}

func valueIndex(t *testing.T, p *profile.Profile, typ string) int {
	for i, st := range p.SampleType {
		if st.Type == typ {
			return i
		}
	}
	t.Fatalf("no sample type %q in %v", typ, p.SampleType)
	return -1
}

// names of a sample's frames, leaf first.
func names(s *profile.Sample) []string {
	var out []string
	for _, loc := range s.Location {
		for _, ln := range loc.Line {
			if ln.Function != nil {
				out = append(out, ln.Function.Name)
			}
		}
		if len(loc.Line) == 0 {
			out = append(out, fmt.Sprintf("0x%x", loc.Address))
		}
	}
	return out
}

func indexOf(frames []string, name string) int {
	for i, f := range frames {
		if f == name {
			return i
		}
	}
	return -1
}

// total of value vi over samples whose stack has every one of want.
func total(p *profile.Profile, vi int, want ...string) int64 {
	var sum int64
	for _, s := range p.Sample {
		fr := names(s)
		ok := true
		for _, w := range want {
			if indexOf(fr, w) < 0 {
				ok = false
				break
			}
		}
		if ok {
			sum += s.Value[vi]
		}
	}
	return sum
}

// labelTotal: total of value vi over samples labelled key=value whose stack
// has every one of want.
func labelTotal(p *profile.Profile, vi int, key, value string, want ...string) int64 {
	var sum int64
	for _, s := range p.Sample {
		if len(s.Label[key]) == 0 || s.Label[key][0] != value {
			continue
		}
		fr := names(s)
		ok := true
		for _, w := range want {
			ok = ok && indexOf(fr, w) >= 0
		}
		if ok {
			sum += s.Value[vi]
		}
	}
	return sum
}

func share(a, b int64) float64 {
	if a+b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(a+b)
}

func comment(p *profile.Profile, key string) string {
	for _, c := range p.Comments {
		if strings.HasPrefix(c, key+"=") {
			return strings.TrimPrefix(c, key+"=")
		}
	}
	return ""
}
