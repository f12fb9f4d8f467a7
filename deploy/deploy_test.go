// Package deploy holds the deployment files: the Dockerfile, Kubernetes
// manifests, the systemd unit and example configs. Its tests keep them
// honest without a Docker engine or a cluster: every YAML parses, every
// config passes the same validation as `triage config check` (run by the
// binary built with the Dockerfile's own `go build` line), and the image's
// entrypoint, port and paths match what the manifests reference.
package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/route"
)

// dockerfile is what the tests read off deploy/Dockerfile.
type dockerfile struct {
	finalFrom  string
	user       string
	entrypoint []string
	cmd        []string
	expose     []int
	copies     map[string]string // destination → source of COPY --from=build
	goBuild    string            // the RUN line with `go build`
	volumes    []string
	workdir    string
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	d := dockerfile{copies: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			d.finalFrom, d.user, d.entrypoint, d.cmd, d.expose = strings.Fields(rest)[0], "", nil, nil, nil
			d.copies = map[string]string{}
		case "USER":
			d.user = rest
		case "WORKDIR":
			d.workdir = rest
		case "ENTRYPOINT":
			require.NoError(t, json.Unmarshal([]byte(rest), &d.entrypoint), "ENTRYPOINT must be exec form (a JSON array)")
		case "CMD":
			require.NoError(t, json.Unmarshal([]byte(rest), &d.cmd), "CMD must be exec form (a JSON array)")
		case "VOLUME":
			require.NoError(t, json.Unmarshal([]byte(rest), &d.volumes))
		case "EXPOSE":
			for _, p := range strings.Fields(rest) {
				n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
				require.NoError(t, err)
				d.expose = append(d.expose, n)
			}
		case "COPY":
			f := strings.Fields(rest)
			var args []string
			from := ""
			for _, a := range f {
				if v, ok := strings.CutPrefix(a, "--from="); ok {
					from = v
				} else if !strings.HasPrefix(a, "--") {
					args = append(args, a)
				}
			}
			if from != "" && len(args) == 2 {
				d.copies[args[1]] = args[0]
			}
		case "RUN":
			if strings.Contains(rest, "go build") {
				d.goBuild = rest
			}
		}
	}
	require.NoError(t, sc.Err())
	return d
}

// splitShell splits a simple shell command line (no pipes or
// substitutions) into words, honouring single and double quotes.
func splitShell(t *testing.T, s string) []string {
	t.Helper()
	var (
		words []string
		cur   strings.Builder
		quote rune
		in    bool
	)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			require.NotContains(t, "|;&$`<>", string(r), "the go build line must be a plain command")
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// buildLikeDockerfile runs the Dockerfile's `go build` line from the
// repository root, with its environment and flags, writing the binary to
// a temp dir instead of /out.
func buildLikeDockerfile(t *testing.T, d dockerfile, out string) string {
	t.Helper()
	words := splitShell(t, d.goBuild)
	var env []string
	for len(words) > 0 && strings.Contains(words[0], "=") {
		env = append(env, words[0])
		words = words[1:]
	}
	require.GreaterOrEqual(t, len(words), 2)
	require.Equal(t, []string{"go", "build"}, words[:2])
	assert.Contains(t, env, "CGO_ENABLED=0", "static, CGO-free build")
	args := append([]string(nil), words[1:]...)
	found := false
	for i := range args {
		if args[i] == "-o" && i+1 < len(args) {
			assert.Equal(t, d.copies["/usr/local/bin/triage"], args[i+1], "the image copies what go build wrote")
			args[i+1], found = out, true
		}
	}
	require.True(t, found, "the go build line names its output with -o")
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s: %s", strings.Join(args, " "), b)
	return out
}

func TestDockerfile(t *testing.T) {
	d := readDockerfile(t)
	assert.Regexp(t, `^(gcr\.io/distroless/static[^ ]*|scratch)$`, d.finalFrom, "final stage: distroless static or scratch")
	require.NotEmpty(t, d.user, "USER is set")
	assert.NotContains(t, []string{"0", "root", "0:0"}, d.user, "non-root")
	require.Len(t, d.entrypoint, 1)
	_, copied := d.copies[d.entrypoint[0]]
	assert.True(t, copied, "ENTRYPOINT %s is the binary copied from the build stage", d.entrypoint[0])
	assert.Equal(t, []int{8080}, d.expose)
	assert.Equal(t, []string{"/data"}, d.volumes)
	assert.Equal(t, "/data", d.workdir)
	assert.Equal(t, []string{"run", "--config", "/etc/triage/triage.yaml"}, d.cmd)
}

// envValue gives a plausible value for a secret the configs reference.
func envValue(name string) string {
	switch {
	case strings.Contains(name, "SLACK_BOT_TOKEN"):
		return "xoxb-test"
	case strings.Contains(name, "SLACK_APP_TOKEN"):
		return "xapp-test"
	case strings.Contains(name, "PG_DSN"):
		return "postgres://triage:pw@127.0.0.1:5432/triage"
	}
	return "test-secret-" + strings.ToLower(name)
}

var envRefRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)

func envRefs(data []byte) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range envRefRE.FindAllSubmatch(data, -1) {
		if !seen[string(m[1])] {
			seen[string(m[1])] = true
			out = append(out, string(m[1]))
		}
	}
	sort.Strings(out)
	return out
}

// checkConfig validates a config file in-process (config.Load +
// route.Compile, as `triage config check` does) and, when bin is set,
// with the binary itself.
func checkConfig(t *testing.T, bin, file string, env map[string]string) *config.Config {
	t.Helper()
	cfg, err := config.Load(file, func(k string) string { return env[k] })
	require.NoError(t, err)
	_, err = route.Compile(file, &cfg.Routes, route.Options{})
	require.NoError(t, err)
	if bin != "" {
		cmd := exec.Command(bin, "config", "check", "--config", file)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "triage config check %s: %s", file, out)
		assert.Contains(t, string(out), ": OK")
	}
	return cfg
}

// built caches the binary across the tests of one run (it takes a while
// to compile cold).
var built struct {
	sync.Mutex
	dir, bin string
}

// TestMain removes the cached binary's directory at the end.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// binary builds triage the way the Dockerfile does, unless -short.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Log("-short: checking configs in-process only, without building the Dockerfile's binary")
		return ""
	}
	built.Lock()
	defer built.Unlock()
	if built.bin != "" {
		return built.bin
	}
	dir, err := os.MkdirTemp("", "triage-deploy-test")
	require.NoError(t, err)
	built.dir = dir
	bin := buildLikeDockerfile(t, readDockerfile(t), filepath.Join(dir, "triage"))
	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "a static binary has no dynamic loader")
	}
	libs, _ := f.ImportedLibraries()
	assert.Empty(t, libs, "a static binary links no shared libraries")
	built.bin = bin
	return bin
}

func TestExampleConfigs(t *testing.T) {
	bin := binary(t)
	files, err := filepath.Glob("examples/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 3, "Gmail + Slack, Microsoft 365 + helpdesk, Dovecot + Slack, and one per helpdesk integration")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			var any map[string]any
			require.NoError(t, yaml.Unmarshal(data, &any), "valid YAML")
			env := map[string]string{}
			for _, k := range envRefs(data) {
				env[k] = envValue(k)
			}
			cfg := checkConfig(t, bin, f, env)
			assert.Equal(t, "/var/lib/triage", cfg.DataDir, "data_dir is the systemd StateDirectory")
			assert.True(t, len(cfg.IMAP) > 0 || helpdesk(cfg), "reads a mailbox or a helpdesk")
			assert.NotEmpty(t, cfg.Alerts.Rules, "shows spike alerts")
		})
	}
}

// helpdesk reports whether cfg reads a helpdesk instead of a mailbox.
func helpdesk(cfg *config.Config) bool {
	return cfg.HelpScout != nil
}

// manifest is one Kubernetes object, loosely typed.
type manifest map[string]any

func (m manifest) get(keys ...any) any {
	var v any = map[string]any(m)
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			mm, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = mm[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func (m manifest) str(keys ...any) string { s, _ := m.get(keys...).(string); return s }

func readManifests(t *testing.T, file string) map[string]manifest {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	out := map[string]manifest{}
	for {
		var raw map[string]any
		err := dec.Decode(&raw)
		if err != nil {
			require.ErrorContains(t, err, "EOF")
			break
		}
		m := manifest(raw)
		kind := m.str("kind")
		require.NotEmpty(t, kind, "%s: every document has a kind", file)
		require.NotEmpty(t, m.str("apiVersion"), "%s: every document has an apiVersion", file)
		require.NotEmpty(t, m.str("metadata", "name"), "%s: every document has a name", file)
		_, dup := out[kind]
		require.False(t, dup, "%s: one %s", file, kind)
		out[kind] = m
	}
	return out
}

func TestKubernetesManifests(t *testing.T) {
	bin := binary(t)
	d := readDockerfile(t)
	tests := []struct {
		file     string
		kinds    []string
		driver   string
		replicas int
	}{
		{"k8s/triage.yaml", []string{"ConfigMap", "Deployment", "PersistentVolumeClaim", "Secret", "Service"}, "sqlite", 1},
		{"k8s/triage-postgres.yaml", []string{"ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service"}, "postgres", 3},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ms := readManifests(t, tt.file)
			var kinds []string
			for k := range ms {
				kinds = append(kinds, k)
			}
			sort.Strings(kinds)
			require.Equal(t, tt.kinds, kinds)
			dep, svc, cm, sec := ms["Deployment"], ms["Service"], ms["ConfigMap"], ms["Secret"]
			spec := manifest(dep.get("spec", "template", "spec").(map[string]any))
			assert.EqualValues(t, tt.replicas, dep.get("spec", "replicas"))
			assert.Equal(t, true, spec.get("securityContext", "runAsNonRoot"))
			c := manifest(spec.get("containers", 0).(map[string]any))

			// The image's entrypoint runs with the manifest's args: the
			// same command as the image's CMD, with the config where the
			// ConfigMap is mounted.
			assert.Nil(t, c.get("command"), "the image's ENTRYPOINT is used")
			var args []string
			for _, a := range c.get("args").([]any) {
				args = append(args, a.(string))
			}
			assert.Equal(t, d.cmd, args)
			cfgPath := args[len(args)-1]

			// Ports and probes.
			port := c.get("ports", 0)
			require.NotNil(t, port)
			pm := manifest(port.(map[string]any))
			assert.EqualValues(t, d.expose[0], pm.get("containerPort"), "container port is the image's EXPOSE")
			portName := pm.str("name")
			for probe, p := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
				assert.Equal(t, p, c.str(probe, "httpGet", "path"), probe)
				assert.Equal(t, portName, c.str(probe, "httpGet", "port"), probe)
			}
			assert.Equal(t, portName, svc.str("spec", "ports", 0, "targetPort"), "the Service targets the container port")
			assert.Equal(t, dep.get("spec", "selector", "matchLabels"), svc.get("spec", "selector"))
			assert.Equal(t, true, c.get("securityContext", "readOnlyRootFilesystem"))

			// Volumes: the ConfigMap at the config's directory, data at
			// the image's VOLUME.
			mounts := map[string]string{}
			for _, vm := range c.get("volumeMounts").([]any) {
				m := manifest(vm.(map[string]any))
				mounts[m.str("name")] = m.str("mountPath")
			}
			vols := map[string]manifest{}
			for _, v := range spec.get("volumes").([]any) {
				m := manifest(v.(map[string]any))
				vols[m.str("name")] = m
			}
			var cfgVol string
			for name, v := range vols {
				if v.str("configMap", "name") == cm.str("metadata", "name") {
					cfgVol = name
				}
				if claim := v.str("persistentVolumeClaim", "claimName"); claim != "" {
					assert.Equal(t, ms["PersistentVolumeClaim"].str("metadata", "name"), claim)
				}
			}
			require.NotEmpty(t, cfgVol, "the ConfigMap is mounted")
			assert.Equal(t, path.Dir(cfgPath), mounts[cfgVol])
			cfgText, ok := cm.get("data", path.Base(cfgPath)).(string)
			require.True(t, ok, "the ConfigMap has %s", path.Base(cfgPath))

			// Env: every ${VAR} of the config comes from the Secret.
			secretData := sec.get("stringData").(map[string]any)
			env := map[string]string{}
			for _, e := range c.get("env").([]any) {
				m := manifest(e.(map[string]any))
				require.Equal(t, sec.str("metadata", "name"), m.str("valueFrom", "secretKeyRef", "name"))
				key := m.str("valueFrom", "secretKeyRef", "key")
				v, ok := secretData[key].(string)
				require.True(t, ok, "Secret has key %s", key)
				env[m.str("name")] = v
			}
			for _, ref := range envRefs([]byte(cfgText)) {
				assert.Contains(t, env, ref, "the Deployment sets %s for the config", ref)
			}

			// The config passes triage config check, listens on the
			// container port, keeps data on the data volume.
			file := filepath.Join(t.TempDir(), "triage.yaml")
			require.NoError(t, os.WriteFile(file, []byte(cfgText), 0o644))
			cfg := checkConfig(t, bin, file, env)
			assert.Equal(t, tt.driver, cfg.Store.Driver)
			_, p, err := net.SplitHostPort(cfg.HTTP.Listen)
			require.NoError(t, err)
			assert.Equal(t, strconv.Itoa(d.expose[0]), p)
			assert.Equal(t, d.volumes[0], cfg.DataDir)
			var dataVol string
			for name, mp := range mounts {
				if mp == cfg.DataDir {
					dataVol = name
				}
			}
			require.NotEmpty(t, dataVol, "data_dir %s is a volume (the root file system is read-only)", cfg.DataDir)
			if tt.driver == "sqlite" {
				assert.NotNil(t, vols[dataVol].get("persistentVolumeClaim"), "SQLite data on the PVC")
				assert.Equal(t, "Recreate", dep.str("spec", "strategy", "type"), "one SQLite writer at a time")
			}
		})
	}
}

// hardening lists directives whose every line must be explained by a
// comment just above it (at most a few lines up, for grouped lines).
var hardening = regexp.MustCompile(`^(DynamicUser|StateDirectory|Protect\w+|Private\w+|Restrict\w+|NoNewPrivileges|CapabilityBoundingSet|AmbientCapabilities|SystemCall\w+|LockPersonality|MemoryDenyWriteExecute|UMask|RemoveIPC|ProcSubset)=`)

func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile("systemd/triage.service")
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	keys := map[string][]string{}
	sinceComment := 100
	for i, l := range lines {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "#"):
			sinceComment = 0
			continue
		case l == "" || strings.HasPrefix(l, "["):
			continue
		}
		sinceComment++
		k, v, ok := strings.Cut(l, "=")
		require.True(t, ok, "line %d: %q is not Key=value", i+1, l)
		keys[k] = append(keys[k], v)
		if hardening.MatchString(l) {
			assert.LessOrEqual(t, sinceComment, 3, "line %d: %s has no comment explaining it", i+1, l)
		}
	}
	for k, v := range map[string]string{
		"DynamicUser": "yes", "StateDirectory": "triage", "ProtectSystem": "strict", "ProtectHome": "yes",
		"NoNewPrivileges": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "",
		"WorkingDirectory": "/var/lib/triage",
	} {
		assert.Equal(t, []string{v}, keys[k], k)
	}
	require.Len(t, keys["ExecStart"], 1)
	execStart := strings.Fields(keys["ExecStart"][0])
	assert.Equal(t, []string{"/usr/local/bin/triage", "run", "--config", "/etc/triage/triage.yaml"}, execStart)

	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze not found: unit keys not verified by systemd")
		return
	}
	// systemd-analyze verify reports unknown or malformed keys; it needs
	// the executables to exist, so point them at a stand-in.
	unit := filepath.Join(t.TempDir(), "triage.service")
	require.NoError(t, os.WriteFile(unit, []byte(strings.ReplaceAll(string(data), "/usr/local/bin/triage", "/bin/true")), 0o644))
	out, err := execOut("systemd-analyze", "verify", "--man=no", unit)
	require.NoError(t, err, "%s", out)
	assert.Empty(t, strings.TrimSpace(out), "systemd-analyze verify")
}

func execOut(name string, args ...string) (string, error) {
	b, err := exec.Command(name, args...).CombinedOutput()
	return string(b), err
}
