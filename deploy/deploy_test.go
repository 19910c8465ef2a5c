package deploy_test

import (
	"encoding/json"
	"net/url"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/firebreak-dev/firebreak/internal/app"
)

// The image's HTTP port: EXPOSEd by the Dockerfile, FIREBREAK_HTTP_ADDR of
// every service container, the container side of its published port.
const httpPort = "8080"

// serveContainers maps each `firebreak serve <name>` to its container.
func serveContainers(t *testing.T, c *compose) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range c.names() {
		cmd := c.Services[n].Command
		if len(cmd) == 0 || cmd[0] != "serve" {
			continue
		}
		if len(cmd) != 2 {
			t.Errorf("%s: command %q: want exactly [\"serve\", <service>]", n, cmd)
			continue
		}
		if prev, ok := out[cmd[1]]; ok {
			t.Errorf("service %s runs in two containers, %s and %s (scale one with --scale instead)", cmd[1], prev, n)
		}
		out[cmd[1]] = n
	}
	return out
}

func TestEveryServiceRunsInOneContainer(t *testing.T) {
	c := loadCompose(t)
	got := serveContainers(t, c)
	for _, svc := range app.Services {
		if _, ok := got[svc]; !ok {
			t.Errorf("no container runs `firebreak serve %s` (command: [\"serve\", %q])", svc, svc)
		}
	}
	for svc, ctr := range got {
		if !slices.Contains(app.Services, svc) {
			t.Errorf("%s: serves %q, which is not a firebreak service (%v)", ctr, svc, app.Services)
		}
	}
	var migrate []string
	for _, n := range c.names() {
		if cmd := c.Services[n].Command; len(cmd) > 0 && cmd[0] == "migrate" {
			migrate = append(migrate, n)
			if len(cmd) != 1 {
				t.Errorf("%s: command %q: want [\"migrate\"] (the URL comes from FIREBREAK_POSTGRES)", n, cmd)
			}
		}
	}
	if len(migrate) != 1 {
		t.Errorf("want one `firebreak migrate` container, have %v", migrate)
	}
}

func TestFirebreakContainersUseTheImage(t *testing.T) {
	c := loadCompose(t)
	images := map[string][]string{}
	for _, n := range c.names() {
		s := c.Services[n]
		if !isFirebreak(s) {
			continue
		}
		if s.Build == nil {
			t.Errorf("%s: no build: every firebreak container builds deploy/Dockerfile", n)
			continue
		}
		if filepath.Clean(s.Build.Context) != "." {
			t.Errorf("%s: build context %q: want the repository root (.)", n, s.Build.Context)
		}
		if filepath.ToSlash(filepath.Clean(s.Build.Dockerfile)) != "deploy/Dockerfile" {
			t.Errorf("%s: dockerfile %q: want deploy/Dockerfile", n, s.Build.Dockerfile)
		}
		if s.Image == "" {
			t.Errorf("%s: no image name: name the one image so every container shares it", n)
		}
		images[s.Image] = append(images[s.Image], n)
	}
	if len(images) > 1 {
		t.Errorf("firebreak containers use %d images, want one: %v", len(images), images)
	}
}

func TestServiceEnvironment(t *testing.T) {
	c := loadCompose(t)
	for svc, ctr := range serveContainers(t, c) {
		e := c.Services[ctr].Environment
		for _, k := range []string{"FIREBREAK_NATS_URL", "FIREBREAK_HTTP_ADDR", "FIREBREAK_ADMIN_TOKEN", "FIREBREAK_STREAM_REPLICAS"} {
			if e[k] == "" {
				t.Errorf("%s: %s is not set", ctr, k)
			}
		}
		if got := e["FIREBREAK_HTTP_ADDR"]; got != "0.0.0.0:"+httpPort && got != ":"+httpPort {
			t.Errorf("%s: FIREBREAK_HTTP_ADDR=%q: want 0.0.0.0:%s (the default listens on 127.0.0.1, unreachable from outside the container)", ctr, got, httpPort)
		}
		// The token is the operator's, never a value committed here.
		if tok := e["FIREBREAK_ADMIN_TOKEN"]; !regexp.MustCompile(`^\$\{FIREBREAK_ADMIN_TOKEN:\?[^}]*\}$`).MatchString(tok) {
			t.Errorf("%s: FIREBREAK_ADMIN_TOKEN=%q: want ${FIREBREAK_ADMIN_TOKEN:?…} (required from the environment, no default)", ctr, tok)
		}
		pg, hasPG := e["FIREBREAK_POSTGRES"]
		switch {
		case app.HasDatabase(svc) && pg == "":
			t.Errorf("%s: %s keeps state in PostgreSQL but FIREBREAK_POSTGRES is not set", ctr, svc)
		case !app.HasDatabase(svc) && hasPG:
			t.Errorf("%s: %s has no database; do not hand it FIREBREAK_POSTGRES", ctr, svc)
		}
	}
}

// TestPostgres checks that every FIREBREAK_POSTGRES is the same URL, names a
// postgres container and the database and user that container creates, and
// that whoever uses it waits for it.
func TestPostgres(t *testing.T) {
	c := loadCompose(t)
	urls := map[string][]string{}
	for _, n := range c.names() {
		s := c.Services[n]
		raw, ok := s.Environment["FIREBREAK_POSTGRES"]
		if !ok {
			continue
		}
		urls[raw] = append(urls[raw], n)
		u, err := url.Parse(interpolate(raw))
		if err != nil {
			t.Errorf("%s: FIREBREAK_POSTGRES: %v", n, err)
			continue
		}
		if u.Scheme != "postgres" && u.Scheme != "postgresql" {
			t.Errorf("%s: FIREBREAK_POSTGRES scheme %q: want postgres://", n, u.Scheme)
		}
		db, ok := c.Services[u.Hostname()]
		if !ok {
			t.Errorf("%s: FIREBREAK_POSTGRES host %q is no container (%v)", n, u.Hostname(), c.names())
			continue
		}
		if !strings.HasPrefix(db.Image, "postgres:") {
			t.Errorf("%s: FIREBREAK_POSTGRES host %s runs %q, not postgres", n, u.Hostname(), db.Image)
		}
		if want := db.Environment["POSTGRES_DB"]; want != "" && strings.TrimPrefix(u.Path, "/") != want {
			t.Errorf("%s: FIREBREAK_POSTGRES database %q, but %s creates %q", n, u.Path, u.Hostname(), want)
		}
		if want := db.Environment["POSTGRES_USER"]; want != "" && u.User.Username() != want {
			t.Errorf("%s: FIREBREAK_POSTGRES user %q, but %s creates %q", n, u.User.Username(), u.Hostname(), want)
		}
		if pw, _ := u.User.Password(); db.Environment["POSTGRES_PASSWORD"] != "" && interpolate(db.Environment["POSTGRES_PASSWORD"]) != pw {
			t.Errorf("%s: FIREBREAK_POSTGRES password differs from %s's POSTGRES_PASSWORD", n, u.Hostname())
		}
		if got := s.DependsOn[u.Hostname()]; got != "service_healthy" {
			t.Errorf("%s: depends_on %s: condition %q, want service_healthy", n, u.Hostname(), got)
		}
		if s.Command[0] == "serve" {
			var migrated bool
			for dep, cond := range s.DependsOn {
				if cmd := c.Services[dep]; cmd != nil && len(cmd.Command) > 0 && cmd.Command[0] == "migrate" {
					migrated = cond == "service_completed_successfully"
				}
			}
			if !migrated {
				t.Errorf("%s: does not wait for the migrate container (condition: service_completed_successfully)", n)
			}
		}
	}
	if len(urls) > 1 {
		t.Errorf("containers use different FIREBREAK_POSTGRES URLs: %v", urls)
	}
}

// TestEnvironmentNamesRealFlags checks that every FIREBREAK_* variable a
// firebreak container sets is a flag of the command it runs, or one the
// code reads itself (envReads); a misspelt variable is silently ignored by
// the binary.
func TestEnvironmentNamesRealFlags(t *testing.T) {
	flags := commandFlags(t)
	for _, cmd := range []string{"serve", "migrate"} {
		if len(flags[cmd]) == 0 {
			t.Fatalf("found no flags of `firebreak %s` in cmd/firebreak: has the command moved?", cmd)
		}
	}
	if !slices.Contains(flags["serve"], "nats-url") {
		t.Fatalf("the flag parser missed `firebreak serve --nats-url` (found %v)", flags["serve"])
	}
	c := loadCompose(t)
	reads := envReads(t)
	for _, n := range c.names() {
		s := c.Services[n]
		if !isFirebreak(s) {
			continue
		}
		cmd := s.Command[0]
		for k := range s.Environment {
			flag, ok := flagOfEnv(k)
			if !ok {
				continue
			}
			if !slices.Contains(flags[cmd], flag) && !slices.Contains(flags[""], flag) && !slices.Contains(reads, k) {
				t.Errorf("%s: %s: `firebreak %s` has no flag --%s (its flags: %v)", n, k, cmd, flag, flags[cmd])
			}
		}
	}
}

func TestPorts(t *testing.T) {
	c := loadCompose(t)
	hosts := map[string]string{}
	for _, n := range c.names() {
		for _, p := range c.Services[n].Ports {
			host, ctr, err := portMapping(p)
			if err != nil {
				t.Errorf("%s: %v", n, err)
				continue
			}
			if host == "" {
				continue
			}
			if prev, ok := hosts[host]; ok {
				t.Errorf("host port %s published by both %s and %s", host, prev, n)
			}
			hosts[host] = n
			if isFirebreak(c.Services[n]) && ctr != httpPort {
				t.Errorf("%s: publishes container port %s; firebreak listens on %s", n, ctr, httpPort)
			}
		}
	}
	for svc, ctr := range serveContainers(t, c) {
		if len(c.Services[ctr].Ports) == 0 {
			t.Errorf("%s: %s's API is not published on the host", ctr, svc)
		}
	}
}

// natsConf is one node's configuration as nats-server reads it.
type natsConf struct {
	container, path string
	opts            *server.Options
}

func loadNATS(t *testing.T, c *compose) []natsConf {
	t.Helper()
	var out []natsConf
	for _, n := range c.natsNodes() {
		s := c.Services[n]
		i := slices.Index(s.Command, "-c")
		if i < 0 {
			i = slices.Index(s.Command, "--config")
		}
		if i < 0 || i+1 >= len(s.Command) {
			t.Errorf("%s: command %q does not name a config file (-c)", n, s.Command)
			continue
		}
		inCtr := s.Command[i+1]
		host, ok := hostPath(s.Volumes, inCtr)
		if !ok {
			t.Errorf("%s: no volume mounts its config %s from deploy/nats", n, inCtr)
			continue
		}
		opts, err := server.ProcessConfigFile(repoPath(host))
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		out = append(out, natsConf{container: n, path: host, opts: opts})
	}
	return out
}

// hostPath finds the host file behind a path inside a container through its
// bind mounts.
func hostPath(volumes []string, inCtr string) (string, bool) {
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], ".") {
			continue
		}
		if rel, ok := strings.CutPrefix(inCtr, strings.TrimSuffix(parts[1], "/")+"/"); ok {
			return path.Join(parts[0], rel), true
		}
		if inCtr == parts[1] {
			return parts[0], true
		}
	}
	return "", false
}

// namedVolume reports whether a named volume is mounted at dir.
func namedVolume(c *compose, volumes []string, dir string) bool {
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && path.Clean(parts[1]) == path.Clean(dir) {
			_, ok := c.Volumes[parts[0]]
			return ok
		}
	}
	return false
}

func TestNATSCluster(t *testing.T) {
	c := loadCompose(t)
	nodes := loadNATS(t, c)
	if len(nodes) != 3 {
		t.Fatalf("want 3 NATS nodes, have %d (%v)", len(nodes), c.natsNodes())
	}
	names := map[string]bool{}
	for _, n := range nodes {
		names[n.container] = true
	}
	cluster := nodes[0].opts.Cluster.Name
	for _, n := range nodes {
		o, s := n.opts, c.Services[n.container]
		if o.ServerName != n.container {
			t.Errorf("%s: server_name %q: want the container's name", n.path, o.ServerName)
		}
		if !o.JetStream || o.StoreDir == "" {
			t.Errorf("%s: JetStream is not enabled with a store_dir", n.path)
		} else if !namedVolume(c, s.Volumes, o.StoreDir) {
			t.Errorf("%s: store_dir %s is not on a named volume: the streams would not survive the container", n.container, o.StoreDir)
		}
		if o.Cluster.Name == "" || o.Cluster.Name != cluster {
			t.Errorf("%s: cluster name %q, want %q on every node", n.path, o.Cluster.Name, cluster)
		}
		if o.Port != 4222 || o.Cluster.Port != 6222 || o.HTTPPort != 8222 {
			t.Errorf("%s: ports client %d, cluster %d, monitoring %d: want 4222, 6222, 8222", n.path, o.Port, o.Cluster.Port, o.HTTPPort)
		}
		var routes []string
		for _, r := range o.Routes {
			if r.Port() != strconv.Itoa(o.Cluster.Port) {
				t.Errorf("%s: route %s: want port %d", n.path, r, o.Cluster.Port)
			}
			routes = append(routes, r.Hostname())
		}
		slices.Sort(routes)
		var others []string
		for _, m := range nodes {
			if m.container != n.container {
				others = append(others, m.container)
			}
		}
		if !slices.Equal(routes, others) {
			t.Errorf("%s: routes to %v, want the other nodes %v", n.path, routes, others)
		}
		if s.Healthcheck == nil || !strings.Contains(strings.Join(s.Healthcheck.Test, " "), ":8222/healthz?js-enabled-only=true") {
			t.Errorf("%s: want a healthcheck on :8222/healthz?js-enabled-only=true", n.container)
		}
	}

	// Every firebreak container knows every node, on the client port.
	for _, n := range c.names() {
		s := c.Services[n]
		raw, ok := s.Environment["FIREBREAK_NATS_URL"]
		if !isFirebreak(s) || !ok {
			continue
		}
		var hosts []string
		for _, u := range strings.Split(raw, ",") {
			pu, err := url.Parse(strings.TrimSpace(u))
			if err != nil || pu.Scheme != "nats" || pu.Port() != "4222" {
				t.Errorf("%s: FIREBREAK_NATS_URL element %q: want nats://<node>:4222", n, u)
				continue
			}
			hosts = append(hosts, pu.Hostname())
		}
		slices.Sort(hosts)
		if !slices.Equal(hosts, c.natsNodes()) {
			t.Errorf("%s: FIREBREAK_NATS_URL names %v, want every node %v", n, hosts, c.natsNodes())
		}
		for _, node := range c.natsNodes() {
			if s.DependsOn[node] != "service_healthy" {
				t.Errorf("%s: does not wait for %s to be healthy", n, node)
			}
		}
	}
}

func TestStreamReplicas(t *testing.T) {
	c := loadCompose(t)
	nodes := len(c.natsNodes())
	for _, ctr := range serveContainers(t, c) {
		got := c.Services[ctr].Environment["FIREBREAK_STREAM_REPLICAS"]
		n, err := strconv.Atoi(got)
		if err != nil || n != 3 {
			t.Errorf("%s: FIREBREAK_STREAM_REPLICAS=%q, want 3", ctr, got)
			continue
		}
		if n > nodes {
			t.Errorf("%s: %d stream replicas on %d NATS nodes", ctr, n, nodes)
		}
		cfg := app.Config{StreamReplicas: n}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", ctr, err)
		}
	}
}

func TestDependsOn(t *testing.T) {
	c := loadCompose(t)
	conditions := []string{"service_started", "service_healthy", "service_completed_successfully"}
	for _, n := range c.names() {
		for dep, cond := range c.Services[n].DependsOn {
			target, ok := c.Services[dep]
			if !ok {
				t.Errorf("%s: depends on %q, which is not a service", n, dep)
				continue
			}
			if !slices.Contains(conditions, cond) {
				t.Errorf("%s: depends_on %s: unknown condition %q", n, dep, cond)
			}
			if cond == "service_healthy" && target.Healthcheck == nil {
				t.Errorf("%s: waits for %s to be healthy, but %s has no healthcheck", n, dep, dep)
			}
			if cond == "service_completed_successfully" && target.Restart != "no" && target.Restart != "" {
				t.Errorf("%s: waits for %s to complete, but %s restarts (%q)", n, dep, dep, target.Restart)
			}
		}
	}
	// No cycles.
	state := map[string]int{}
	var visit func(n string, path []string)
	visit = func(n string, path []string) {
		switch state[n] {
		case 1:
			t.Errorf("depends_on cycle: %s", strings.Join(append(path, n), " -> "))
			return
		case 2:
			return
		}
		state[n] = 1
		if s := c.Services[n]; s != nil {
			for dep := range s.DependsOn {
				visit(dep, append(path, n))
			}
		}
		state[n] = 2
	}
	for _, n := range c.names() {
		visit(n, nil)
	}
}

func TestDockerfile(t *testing.T) {
	d, err := parseDockerfile(string(readFile(t, repoPath("deploy", "Dockerfile"))))
	if err != nil {
		t.Fatalf("deploy/Dockerfile: %v", err)
	}
	if len(d.stages) < 2 {
		t.Fatalf("want a builder stage and a final stage, have %d stage(s)", len(d.stages))
	}
	final := d.stages[len(d.stages)-1]

	// The builder uses the Go of go.mod and builds a static ./cmd/firebreak.
	var builder *stage
	for _, arg := range final.all("COPY") {
		if m := regexp.MustCompile(`--from=(\S+)\s+/firebreak\s+/firebreak$`).FindStringSubmatch(arg); m != nil {
			for i := range d.stages[:len(d.stages)-1] {
				if d.stages[i].name == m[1] {
					builder = &d.stages[i]
				}
			}
		}
	}
	if builder == nil {
		t.Fatalf("the final stage does not COPY --from=<builder stage> /firebreak /firebreak")
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(readFile(t, repoPath("go.mod"))))
	if goVersion == nil {
		t.Fatal("go.mod has no go directive")
	}
	if img := builder.from; !strings.HasPrefix(img, "golang:"+goVersion[1]) {
		t.Errorf("builder FROM %s: want golang:%s (go.mod's go %s)", img, goVersion[1], goVersion[1])
	}
	var built bool
	for _, run := range builder.all("RUN") {
		if !strings.Contains(run, "go build") {
			continue
		}
		built = true
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-o /firebreak", "./cmd/firebreak"} {
			if !strings.Contains(run, want) {
				t.Errorf("builder RUN %q: missing %q", run, want)
			}
		}
	}
	if !built {
		t.Error("the builder stage has no RUN go build")
	}

	// The final stage runs the binary as a non-root user.
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") {
		t.Errorf("final FROM %s: want gcr.io/distroless/static-… (the binary is static)", final.from)
	}
	users := final.all("USER")
	if len(users) == 0 {
		t.Error("the final stage sets no USER: it would run as whatever the base image says")
	} else {
		u, _, _ := strings.Cut(users[len(users)-1], ":")
		if u == "root" || u == "0" {
			t.Errorf("the final stage runs as %q: want a non-root user", users[len(users)-1])
		}
	}
	var ep []string
	if eps := final.all("ENTRYPOINT"); len(eps) > 0 {
		if err := json.Unmarshal([]byte(eps[len(eps)-1]), &ep); err != nil {
			t.Errorf("ENTRYPOINT %s: want the exec form (the image has no shell): %v", eps[len(eps)-1], err)
		}
	}
	if !slices.Equal(ep, []string{"/firebreak"}) {
		t.Errorf("ENTRYPOINT %q, want [\"/firebreak\"]", ep)
	}
	if !slices.ContainsFunc(final.all("EXPOSE"), func(s string) bool { return slices.Contains(strings.Fields(s), httpPort) }) {
		t.Errorf("the final stage does not EXPOSE %s", httpPort)
	}
}

// TestDockerignore checks that the build context keeps every file the
// binary is built from (go list's Go and embedded files of every package
// of the module it imports) and leaves out the VCS and local dev state.
func TestDockerignore(t *testing.T) {
	di, err := parseDockerignore(string(readFile(t, repoPath(".dockerignore"))))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".git", ".firebreak/admin.token", "cmd/x/.firebreak/incident.db"} {
		if ex, _ := di.excluded(p); !ex {
			t.Errorf(".dockerignore keeps %s in the build context", p)
		}
	}
	need := []string{"go.mod", "go.sum"}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Log("no go command: checking go.mod and go.sum only")
	} else {
		cmd := exec.Command(goBin, "list", "-deps", "-json=Dir,GoFiles,EmbedFiles,Module", "./cmd/firebreak")
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		abs, _ := filepath.Abs(root)
		dec := json.NewDecoder(strings.NewReader(string(out)))
		for dec.More() {
			var p struct {
				Dir                 string
				GoFiles, EmbedFiles []string
				Module              *struct{ Main bool }
			}
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			if p.Module == nil || !p.Module.Main {
				continue
			}
			rel, err := filepath.Rel(abs, p.Dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range append(p.GoFiles, p.EmbedFiles...) {
				need = append(need, filepath.ToSlash(filepath.Join(rel, f)))
			}
		}
		if len(need) < 10 {
			t.Fatalf("go list found only %v", need)
		}
	}
	for _, p := range need {
		if ex, by := di.excluded(p); ex {
			t.Errorf(".dockerignore pattern %q leaves %s out of the build context", by, p)
		}
	}
}

func TestDockerignoreMatcher(t *testing.T) {
	di, err := parseDockerignore("bin\n**/.firebreak\n*.test\nscripts\n!scripts/keep\n/docs/**/x\n")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"bin": true, "bin/a": true, "cmd/bin": false,
		".firebreak": true, "a/b/.firebreak/c": true,
		"x.test": true, "cmd/x.test": false,
		"scripts/run": true, "scripts/keep": false,
		"docs/x": true, "docs/a/b/x": true, "docs/y": false,
		"go.mod": false,
	} {
		if got, _ := di.excluded(p); got != want {
			t.Errorf("excluded(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestDocsNameEveryContainer keeps docs/deploy.md in step with the file.
func TestDocsNameEveryContainer(t *testing.T) {
	doc := string(readFile(t, repoPath("docs", "deploy.md")))
	for _, n := range loadCompose(t).names() {
		if !strings.Contains(doc, "`"+n+"`") {
			t.Errorf("docs/deploy.md does not describe the %s container (as `%s`)", n, n)
		}
	}
}

// TestAuditSigningKey: the audit container signs its checkpoints with a key
// from a Compose secret (a file the operator must name; nothing committed
// here), through serve's --audit-signing-key-file.
func TestAuditSigningKey(t *testing.T) {
	c := loadCompose(t)
	ctr := serveContainers(t, c)["audit"]
	if ctr == "" {
		t.Fatal("no container serves audit")
	}
	s := c.Services[ctr]
	path := s.Environment["FIREBREAK_AUDIT_SIGNING_KEY_FILE"]
	name, ok := strings.CutPrefix(path, "/run/secrets/")
	if !ok || !slices.Contains(s.Secrets, name) {
		t.Fatalf("%s: FIREBREAK_AUDIT_SIGNING_KEY_FILE=%q, secrets %v: want /run/secrets/<one of its secrets>", ctr, path, s.Secrets)
	}
	sec, ok := c.Secrets[name]
	if !ok {
		t.Fatalf("secret %s is not declared at the top level", name)
	}
	if !regexp.MustCompile(`^\$\{[A-Z_]+:\?[^}]*\}$`).MatchString(sec.File) {
		t.Errorf("secret %s file %q: want ${VAR:?…}, required from the operator's environment", name, sec.File)
	}
	if k := s.Environment["FIREBREAK_AUDIT_SIGNING_KEY"]; k != "" {
		t.Errorf("%s: a signing key in the environment (%q); keep it in the secret", ctr, k)
	}
	for other, svc := range c.Services {
		if other != ctr && slices.Contains(svc.Secrets, name) {
			t.Errorf("%s is given the audit signing key too", other)
		}
	}
}

// TestComposeConfig asks Compose itself to validate the file, when a Compose
// is installed (no Docker engine is needed for `config`).
func TestComposeConfig(t *testing.T) {
	var argv []string
	if docker, err := exec.LookPath("docker"); err == nil && exec.Command(docker, "compose", "version").Run() == nil {
		argv = []string{docker, "compose"}
	} else if dc, err := exec.LookPath("docker-compose"); err == nil {
		argv = []string{dc}
	} else {
		t.Skip("no docker compose or docker-compose installed")
	}
	cmd := exec.Command(argv[0], append(argv[1:], "-f", "docker-compose.yml", "config", "-q")...)
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), "FIREBREAK_ADMIN_TOKEN=test-token", "AUDIT_SIGNING_KEY_FILE=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s config: %v\n%s", strings.Join(argv, " "), err, out)
	}
	// Without the token, Compose must refuse to start anything.
	cmd = exec.Command(argv[0], append(argv[1:], "-f", "docker-compose.yml", "config", "-q")...)
	cmd.Dir = root
	cmd.Env = slices.DeleteFunc(cmd.Environ(), func(s string) bool { return strings.HasPrefix(s, "FIREBREAK_ADMIN_TOKEN=") })
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "FIREBREAK_ADMIN_TOKEN") {
		t.Errorf("config without FIREBREAK_ADMIN_TOKEN: err %v, output %s; want a refusal naming the variable", err, out)
	}
}
