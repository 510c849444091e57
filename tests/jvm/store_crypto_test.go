package jvmtests

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// openSealed decrypts a store file with Go's own AES-GCM, following the
// documented layout (PPSTENC, version 1, 12-byte nonce, ciphertext, 16-byte
// tag; the 20-byte header authenticated), and parses the pprof inside.
func openSealed(t *testing.T, key []byte, path string) *profile.Profile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 36 || !bytes.HasPrefix(data, []byte("PPSTENC\x01")) {
		t.Fatalf("%s: no encryption header", path)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := gcm.Open(nil, data[8:20], data[20:], data[:20])
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	p, err := profile.ParseData(plain)
	if err != nil {
		t.Fatalf("%s decrypted is not pprof: %v", path, err)
	}
	return p
}

// sealedWindows: the store holds only encrypted windows, each marked in
// index.tsv; their paths, oldest first.
func sealedWindows(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	index, _ := os.ReadFile(filepath.Join(dir, "index.tsv"))
	var out []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".pb.gz") {
			t.Errorf("%s: a plain profile in an encrypted store", name)
		}
		if strings.HasSuffix(name, "_continuous.pb.gz.enc") {
			if !strings.Contains(string(index), "\t"+name+"\taes-256-gcm\n") {
				t.Errorf("%s is not marked aes-256-gcm in index.tsv:\n%s", name, index)
			}
			out = append(out, filepath.Join(dir, name))
		}
	}
	return out
}

// The agent's continuous windows are encrypted with the key of
// store_key_file (agent string) or POLYPROF_STORE_KEY (environment); a bad
// key leaves profiling off with one line naming its source.
func TestEncryptedStore(t *testing.T) {
	forEachJDK(t, func(t *testing.T, j jdk) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		keyFile := filepath.Join(dir, "store.key")
		if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		store := filepath.Join(dir, "store")
		mustRun(t, j, "start,continuous,window=1s,interval=10ms,service=sealed,store="+store+",store_key_file="+keyFile,
			"Burn", "2")
		files := sealedWindows(t, store)
		if len(files) < 2 {
			t.Fatalf("want at least 2 encrypted windows, got %v", files)
		}
		heavy := int64(0)
		for _, f := range files {
			if raw, _ := os.ReadFile(f); bytes.Contains(raw, []byte("com.example.Burn")) {
				t.Errorf("%s: Java names in the clear", f)
			}
			heavy += total(openSealed(t, key, f), 0, "com.example.Burn.heavy")
		}
		if heavy == 0 {
			t.Errorf("no samples under com.example.Burn.heavy in the decrypted windows")
		}

		envStore := filepath.Join(dir, "env")
		mustRunEnv(t, j, []string{"ENABLE_PROFILING=true", "POLYPROF_STORE=" + envStore,
			"POLYPROF_STORE_KEY=" + base64.StdEncoding.EncodeToString(key), "POLYPROF_OPTIONS=window=1s,service=envsealed"},
			"", "Burn", "1")
		files = sealedWindows(t, envStore)
		if len(files) == 0 {
			t.Fatalf("no encrypted window from the environment's configuration")
		}
		openSealed(t, key, files[0])

		off := filepath.Join(dir, "off")
		r := mustRunEnv(t, j, []string{"ENABLE_PROFILING=true", "POLYPROF_STORE=" + off, "POLYPROF_STORE_KEY=abc123"},
			"", "Latency", "manual")
		lines := stderrLines(r)
		want := "polyprof: profiling stays off: store key from POLYPROF_STORE_KEY: expected 32 bytes"
		if len(lines) != 1 || !strings.HasPrefix(lines[0], want) || strings.Contains(r.stderr, "abc123") {
			t.Errorf("a bad key: want one line %q..., got %q", want, r.stderr)
		}
		if _, err := os.Stat(off); err == nil {
			t.Errorf("a refused key created the store")
		}
	})
}
