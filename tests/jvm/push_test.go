package jvmtests

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/google/pprof/profile"
)

// continuous,push=URL: every window is POSTed to a Pyroscope ingest endpoint,
// read here as Pyroscope's Go server reads it (mime/multipart, the form file
// "profile"), with the token from the environment, never from the options.
func TestContinuousPush(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		type got struct {
			name, format, auth, tenant string
			from, until                int64
			p                          *profile.Profile
			err                        error
		}
		var mu sync.Mutex
		var reqs []got
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g := got{name: r.URL.Query().Get("name"), format: r.URL.Query().Get("format"),
				auth: r.Header.Get("Authorization"), tenant: r.Header.Get("X-Scope-OrgID")}
			g.from, _ = strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
			g.until, _ = strconv.ParseInt(r.URL.Query().Get("until"), 10, 64)
			if r.URL.Path != "/ingest" || r.Method != http.MethodPost {
				http.Error(w, "not ingest", http.StatusNotFound)
				return
			}
			f, _, err := r.FormFile("profile")
			if err == nil {
				g.p, g.err = profile.Parse(f)
			} else {
				g.err = err
			}
			mu.Lock()
			reqs = append(reqs, g)
			mu.Unlock()
		}))
		defer srv.Close()
		mustRunEnv(t, j, []string{"POLYPROF_PUSH_TOKEN=jvm-token"},
			"start,continuous,window=1s,interval=10ms,store="+t.TempDir()+",push="+srv.URL+
				",push_app=jvm-shop,push_tags=env=ci;jdk=x,push_tenant=t-1", "Burn", "2")
		mu.Lock()
		defer mu.Unlock()
		// 2 full windows and the partial one, give or take one on a loaded machine.
		if len(reqs) < 2 || len(reqs) > 4 {
			t.Fatalf("want 2-4 pushed windows over 2s, got %d", len(reqs))
		}
		for i, g := range reqs {
			if g.err != nil {
				t.Fatalf("window %d: the profile field: %v", i, g.err)
			}
			if g.name != "jvm-shop{env=ci,jdk=x}" || g.format != "pprof" || g.auth != "Bearer jvm-token" ||
				g.tenant != "t-1" || g.until <= g.from {
				t.Errorf("window %d: name=%q format=%q auth=%q tenant=%q from=%d until=%d", i, g.name, g.format,
					g.auth, g.tenant, g.from, g.until)
			}
			if comment(g.p, "window") != strconv.Itoa(i) {
				t.Errorf("request %d carries window %q", i, comment(g.p, "window"))
			}
		}
		if total(reqs[0].p, 0, "com.example.Burn.heavy") == 0 {
			t.Errorf("the first window has no com.example.Burn.heavy")
		}
	})
}
