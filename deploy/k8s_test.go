package deploy_test

// Checks of deploy/k8s against the code and the other deployment files:
// the manifests are parsed (yaml.v3, every document of every file that
// kustomization.yaml lists), never applied.

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/firebreak-dev/firebreak/internal/app"
)

const k8sDir = "deploy/k8s"

// k8sObject is one manifest document; Kind selects which of the typed
// fields are filled.
type k8sObject struct {
	file       string
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`       // ConfigMap
	StringData map[string]string `yaml:"stringData"` // Secret
	Spec       struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		// Service
		ServiceSelector map[string]string `yaml:"-"`
		Ports           []struct {
			Name       string      `yaml:"name"`
			Port       int         `yaml:"port"`
			TargetPort intOrString `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type podSpec struct {
	SecurityContext *securityContext `yaml:"securityContext"`
	Containers      []container      `yaml:"containers"`
}

type securityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	EnvFrom []struct {
		ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
		SecretRef    *struct{ Name string } `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
			ConfigMapKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"configMapKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
	SecurityContext *securityContext `yaml:"securityContext"`
}

type probe struct {
	HTTPGet *struct {
		Path string      `yaml:"path"`
		Port intOrString `yaml:"port"`
	} `yaml:"httpGet"`
}

// intOrString is a port given by number or by name.
type intOrString string

func (p *intOrString) UnmarshalYAML(n *yaml.Node) error {
	*p = intOrString(n.Value)
	return nil
}

// manifests is deploy/k8s as kustomization.yaml assembles it.
type manifests struct {
	objects []*k8sObject
	kust    struct {
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
		Images    []struct {
			Name    string `yaml:"name"`
			NewName string `yaml:"newName"`
			NewTag  string `yaml:"newTag"`
		} `yaml:"images"`
	}
	secret *k8sObject // secret.example.yaml, the template
}

func loadK8s(t *testing.T) *manifests {
	t.Helper()
	var m manifests
	if err := yaml.Unmarshal(readFile(t, repoPath(k8sDir, "kustomization.yaml")), &m.kust); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", k8sDir, err)
	}
	for _, f := range m.kust.Resources {
		objs, err := decodeManifests(f, readFile(t, repoPath(k8sDir, f)))
		if err != nil {
			t.Fatal(err)
		}
		m.objects = append(m.objects, objs...)
	}
	objs, err := decodeManifests("secret.example.yaml", readFile(t, repoPath(k8sDir, "secret.example.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Kind == "Secret" {
			m.secret = o
		}
	}
	if m.secret == nil {
		t.Fatalf("%s/secret.example.yaml has no Secret", k8sDir)
	}
	return &m
}

// decodeManifests reads every document of a multi-document YAML file.
func decodeManifests(file string, b []byte) ([]*k8sObject, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []*k8sObject
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", k8sDir, file, err)
		}
		o := &k8sObject{file: file}
		if err := n.Decode(o); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", k8sDir, file, err)
		}
		if o.Kind == "Service" {
			var s struct {
				Spec struct {
					Selector map[string]string `yaml:"selector"`
				} `yaml:"spec"`
			}
			if err := n.Decode(&s); err != nil {
				return nil, err
			}
			o.Spec.ServiceSelector = s.Spec.Selector
		}
		if o.Kind == "" {
			continue // an empty document
		}
		out = append(out, o)
	}
}

func (m *manifests) ofKind(kind string) []*k8sObject {
	var out []*k8sObject
	for _, o := range m.objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// configMap returns the ConfigMap called name.
func (m *manifests) configMap(name string) *k8sObject {
	for _, o := range m.ofKind("ConfigMap") {
		if o.Metadata.Name == name {
			return o
		}
	}
	return nil
}

// deployments maps each `firebreak serve <service>` to its Deployment.
func (m *manifests) deployments(t *testing.T) map[string]*k8sObject {
	t.Helper()
	out := map[string]*k8sObject{}
	for _, d := range m.ofKind("Deployment") {
		cs := d.Spec.Template.Spec.Containers
		if len(cs) != 1 {
			t.Errorf("%s: Deployment %s has %d containers, want 1", d.file, d.Metadata.Name, len(cs))
			continue
		}
		a := cs[0].Args
		if len(a) != 2 || a[0] != "serve" {
			t.Errorf("%s: Deployment %s: args %q, want [\"serve\", <service>]", d.file, d.Metadata.Name, a)
			continue
		}
		if prev, ok := out[a[1]]; ok {
			t.Errorf("service %s has two Deployments, %s and %s (scale one with replicas instead)", a[1], prev.Metadata.Name, d.Metadata.Name)
		}
		out[a[1]] = d
	}
	return out
}

// addServiceHint tells whoever adds a service what to write.
func addServiceHint(svc string) string {
	return fmt.Sprintf("to deploy it: copy %[1]s/escalation.yaml (or intake.yaml for a service without a database) to %[1]s/%[2]s.yaml, "+
		"replace every \"escalation\" with %[2]q (Deployment and Service names, labels, container name, args: [\"serve\", %[2]q]), "+
		"add its own FIREBREAK_* variables (secrets from the Secret \"firebreak\", with the key added to %[1]s/secret.example.yaml), "+
		"list %[2]s.yaml under resources in %[1]s/kustomization.yaml, and describe it in docs/deploy.md", k8sDir, svc)
}

func TestK8sEveryServiceHasADeployment(t *testing.T) {
	m := loadK8s(t)
	got := m.deployments(t)
	for _, svc := range app.Services {
		if _, ok := got[svc]; !ok {
			t.Errorf("no Deployment in %s runs `firebreak serve %s`; %s", k8sDir, svc, addServiceHint(svc))
		}
	}
	for svc, d := range got {
		if !slices.Contains(app.Services, svc) {
			t.Errorf("%s: Deployment %s serves %q, which is not a firebreak service (%v)", d.file, d.Metadata.Name, svc, app.Services)
		}
	}
	// Every manifest in the directory is applied.
	files, err := filepath.Glob(repoPath(k8sDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	notResources := []string{"kustomization.yaml", "nats-values.yaml", "secret.example.yaml"}
	for _, f := range files {
		base := filepath.Base(f)
		if !slices.Contains(notResources, base) && !slices.Contains(m.kust.Resources, base) {
			t.Errorf("%s/%s is not listed under resources in %s/kustomization.yaml, so `kubectl apply -k` leaves it out", k8sDir, base, k8sDir)
		}
	}
}

// httpAddrPort is the port of FIREBREAK_HTTP_ADDR as a container gets it.
func httpAddrPort(m *manifests, c container) (string, bool) {
	for _, e := range c.Env {
		if e.Name == "FIREBREAK_HTTP_ADDR" {
			_, p, err := net.SplitHostPort(e.Value)
			return p, err == nil
		}
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			continue
		}
		if cm := m.configMap(ef.ConfigMapRef.Name); cm != nil {
			if v, ok := cm.Data["FIREBREAK_HTTP_ADDR"]; ok {
				_, p, err := net.SplitHostPort(v)
				return p, err == nil
			}
		}
	}
	return "", false
}

// containerPort resolves a probe's or Service's port (a number or a name)
// against the container's ports.
func containerPort(c container, p intOrString) (int, bool) {
	if n, err := strconv.Atoi(string(p)); err == nil {
		return n, true
	}
	for _, cp := range c.Ports {
		if cp.Name == string(p) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func TestK8sDeployments(t *testing.T) {
	m := loadK8s(t)
	c := loadCompose(t)
	composeImage := ""
	for _, n := range c.names() {
		if isFirebreak(c.Services[n]) {
			composeImage = c.Services[n].Image
		}
	}
	for svc, d := range m.deployments(t) {
		where := fmt.Sprintf("%s/%s: Deployment %s", k8sDir, d.file, d.Metadata.Name)
		ct := d.Spec.Template.Spec.Containers[0]
		pod := d.Spec.Template.Spec

		// Labels and selector.
		for k, v := range d.Spec.Selector.MatchLabels {
			if d.Spec.Template.Metadata.Labels[k] != v {
				t.Errorf("%s: selector %s=%s does not match the pod template's labels %v", where, k, v, d.Spec.Template.Metadata.Labels)
			}
		}
		if len(d.Spec.Selector.MatchLabels) == 0 {
			t.Errorf("%s: no selector", where)
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
			t.Errorf("%s: want replicas: 2 or more (replicas share the durable consumers; one is a single point of failure)", where)
		}

		// The image and entrypoint of deploy/Dockerfile, the image name of
		// docker-compose.yml.
		if got := kustomizedImage(m, ct.Image); got != composeImage {
			t.Errorf("%s: image %q (after kustomization images: %q), want %q like the compose file", where, ct.Image, got, composeImage)
		}
		if len(ct.Command) > 0 && !slices.Equal(ct.Command, []string{"/firebreak"}) {
			t.Errorf("%s: command %q overrides the image's ENTRYPOINT [\"/firebreak\"]; put the subcommand in args", where, ct.Command)
		}
		composeCmd := []string(nil)
		for _, n := range c.names() {
			if cmd := c.Services[n].Command; len(cmd) == 2 && cmd[0] == "serve" && cmd[1] == svc {
				composeCmd = cmd
			}
		}
		if !slices.Equal(ct.Args, composeCmd) {
			t.Errorf("%s: args %q, but the compose file runs %q", where, ct.Args, composeCmd)
		}

		// Probes on the port the process listens on.
		port, ok := httpAddrPort(m, ct)
		if !ok {
			t.Errorf("%s: FIREBREAK_HTTP_ADDR is not set (directly or from the ConfigMap); the default 127.0.0.1 is unreachable from the kubelet", where)
		}
		if port != httpPort {
			t.Errorf("%s: listens on port %q, want %s (the Dockerfile's EXPOSE)", where, port, httpPort)
		}
		for name, want := range map[string]struct {
			p    *probe
			path string
		}{"readinessProbe": {ct.ReadinessProbe, "/readyz"}, "livenessProbe": {ct.LivenessProbe, "/healthz"}} {
			if want.p == nil || want.p.HTTPGet == nil {
				t.Errorf("%s: no %s (want httpGet %s on the http port)", where, name, want.path)
				continue
			}
			if want.p.HTTPGet.Path != want.path {
				t.Errorf("%s: %s path %q, want %s", where, name, want.p.HTTPGet.Path, want.path)
			}
			if n, ok := containerPort(ct, want.p.HTTPGet.Port); !ok || strconv.Itoa(n) != port {
				t.Errorf("%s: %s port %q is %d, but the container serves on %s", where, name, want.p.HTTPGet.Port, n, port)
			}
		}
		if ct.Resources.Requests["cpu"] == "" || ct.Resources.Requests["memory"] == "" {
			t.Errorf("%s: want resources.requests for cpu and memory", where)
		}

		// Not root.
		nonRoot := func(sc *securityContext) bool {
			return sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot && (sc.RunAsUser == nil || *sc.RunAsUser != 0)
		}
		if !nonRoot(pod.SecurityContext) && !nonRoot(ct.SecurityContext) {
			t.Errorf("%s: want securityContext runAsNonRoot: true (and a non-zero runAsUser) on the pod or the container", where)
		}
		if ct.SecurityContext == nil || ct.SecurityContext.AllowPrivilegeEscalation == nil || *ct.SecurityContext.AllowPrivilegeEscalation {
			t.Errorf("%s: want container securityContext allowPrivilegeEscalation: false", where)
		}

		// A Service in front of it.
		var fronted bool
		for _, s := range m.ofKind("Service") {
			if len(s.Spec.ServiceSelector) == 0 || !matches(s.Spec.ServiceSelector, d.Spec.Template.Metadata.Labels) {
				continue
			}
			fronted = true
			for _, p := range s.Spec.Ports {
				if n, ok := containerPort(ct, p.TargetPort); !ok || strconv.Itoa(n) != port {
					t.Errorf("%s/%s: Service %s targets port %q, but %s serves on %s", k8sDir, s.file, s.Metadata.Name, p.TargetPort, d.Metadata.Name, port)
				}
			}
		}
		if !fronted {
			t.Errorf("%s: no Service selects its pods (add one like the Service in %s/escalation.yaml)", where, k8sDir)
		}
	}
}

func matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// kustomizedImage applies kustomization.yaml's images to an image
// reference, as kustomize does.
func kustomizedImage(m *manifests, image string) string {
	name, tag, _ := strings.Cut(image, ":")
	for _, im := range m.kust.Images {
		if im.Name != name {
			continue
		}
		if im.NewName != "" {
			name = im.NewName
		}
		if im.NewTag != "" {
			tag = im.NewTag
		}
	}
	if tag == "" {
		return name
	}
	return name + ":" + tag
}

// k8sEnv returns the FIREBREAK_* variables a container gets, with where
// each comes from ("value", "configmap", "secret:<key>").
func k8sEnv(t *testing.T, m *manifests, where string, c container) map[string]string {
	out := map[string]string{}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm := m.configMap(ef.ConfigMapRef.Name)
			if cm == nil {
				t.Errorf("%s: envFrom ConfigMap %q is not in the manifests", where, ef.ConfigMapRef.Name)
				continue
			}
			for k := range cm.Data {
				out[k] = "configmap"
			}
		case ef.SecretRef != nil:
			t.Errorf("%s: envFrom a whole Secret: name each secret variable with secretKeyRef instead, so the test can check it", where)
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if ref.Name != m.secret.Metadata.Name {
				t.Errorf("%s: %s from Secret %q, want %q (the one secret.example.yaml describes)", where, e.Name, ref.Name, m.secret.Metadata.Name)
			}
			if _, ok := m.secret.StringData[ref.Key]; !ok {
				t.Errorf("%s: %s from Secret key %q, which %s/secret.example.yaml does not have: add it there (with a REPLACE-ME value and a comment)", where, e.Name, ref.Key, k8sDir)
			}
			out[e.Name] = "secret:" + ref.Key
		case e.ValueFrom != nil:
			out[e.Name] = "other"
		default:
			out[e.Name] = "value"
		}
	}
	return out
}

// secretish names variables whose values must come from a Secret.
var secretish = regexp.MustCompile(`TOKEN|POSTGRES|KEY|SECRET|PASSWORD`)

func TestK8sServiceEnvironment(t *testing.T) {
	m := loadK8s(t)
	c := loadCompose(t)
	flags := commandFlags(t)
	reads := envReads(t)
	composeCtr := serveContainers(t, c)
	for svc, d := range m.deployments(t) {
		where := fmt.Sprintf("%s/%s: Deployment %s", k8sDir, d.file, d.Metadata.Name)
		env := k8sEnv(t, m, where, d.Spec.Template.Spec.Containers[0])
		need := []string{"FIREBREAK_NATS_URL", "FIREBREAK_HTTP_ADDR", "FIREBREAK_ADMIN_TOKEN", "FIREBREAK_STREAM_REPLICAS"}
		if app.HasDatabase(svc) {
			need = append(need, "FIREBREAK_POSTGRES")
		} else if _, ok := env["FIREBREAK_POSTGRES"]; ok {
			t.Errorf("%s: %s has no database; do not hand it FIREBREAK_POSTGRES", where, svc)
		}
		for _, k := range need {
			if _, ok := env[k]; !ok {
				t.Errorf("%s: %s is not set", where, k)
			}
		}
		for k, from := range env {
			if !strings.HasPrefix(k, "FIREBREAK_") {
				continue
			}
			flag, _ := flagOfEnv(k)
			if !slices.Contains(flags["serve"], flag) && !slices.Contains(flags[""], flag) && !slices.Contains(reads, k) {
				t.Errorf("%s: %s is neither a flag of `firebreak serve` (--%s) nor read by the code: misspelt?", where, k, flag)
			}
			if secretish.MatchString(k) && !strings.HasPrefix(from, "secret:") {
				t.Errorf("%s: %s comes from %s; take it from the Secret with secretKeyRef", where, k, from)
			}
		}
		// The compose file's container for the service sets the same
		// variables, so the two deployments cannot drift apart.
		ctr, ok := composeCtr[svc]
		if !ok {
			continue // TestEveryServiceRunsInOneContainer reports it
		}
		// FOO_FILE (a secret mounted as a file, Compose's way) and FOO
		// (the value from a secretKeyRef, Kubernetes' way) are one setting.
		setting := func(k string) string { return strings.TrimSuffix(k, "_FILE") }
		composeSet, k8sSet := map[string]bool{}, map[string]bool{}
		for k := range c.Services[ctr].Environment {
			composeSet[setting(k)] = true
		}
		for k := range env {
			k8sSet[setting(k)] = true
		}
		for k := range c.Services[ctr].Environment {
			if strings.HasPrefix(k, "FIREBREAK_") && !k8sSet[setting(k)] {
				t.Errorf("%s: docker-compose.yml sets %s on %s but the Deployment does not: add it (from the ConfigMap, a value, or the Secret)", where, k, ctr)
			}
		}
		for k := range env {
			if strings.HasPrefix(k, "FIREBREAK_") && !composeSet[setting(k)] {
				t.Errorf("docker-compose.yml: %s does not set %s, which %s sets: add it to the %s container", ctr, k, where, ctr)
			}
		}
	}
	if cm := m.configMap("firebreak"); cm != nil {
		if cm.Data["FIREBREAK_STREAM_REPLICAS"] != "3" {
			t.Errorf("ConfigMap firebreak: FIREBREAK_STREAM_REPLICAS=%q, want 3 (the NATS chart runs 3 nodes)", cm.Data["FIREBREAK_STREAM_REPLICAS"])
		}
	} else {
		t.Error("no ConfigMap firebreak")
	}
}

func TestK8sMigrateJob(t *testing.T) {
	m := loadK8s(t)
	jobs := m.ofKind("Job")
	if len(jobs) != 1 {
		t.Fatalf("want one Job (firebreak migrate), have %d", len(jobs))
	}
	j := jobs[0]
	ct := j.Spec.Template.Spec.Containers
	if len(ct) != 1 || !slices.Equal(ct[0].Args, []string{"migrate"}) {
		t.Fatalf("%s: Job %s: want one container with args [\"migrate\"]", j.file, j.Metadata.Name)
	}
	env := k8sEnv(t, m, j.file, ct[0])
	if env["FIREBREAK_POSTGRES"] != "secret:postgres-url" {
		t.Errorf("%s: FIREBREAK_POSTGRES from %q, want the Secret's postgres-url like the services", j.file, env["FIREBREAK_POSTGRES"])
	}
	for _, d := range m.ofKind("Deployment") {
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "FIREBREAK_POSTGRES" && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Key != "postgres-url") {
				t.Errorf("%s: FIREBREAK_POSTGRES must come from the Secret's postgres-url, as for the migrate Job", d.file)
			}
		}
	}
}

// TestK8sNATSValues checks the Helm values against what firebreak needs: a
// 3-node cluster with JetStream on files, reachable at the ConfigMap's URL.
func TestK8sNATSValues(t *testing.T) {
	var v struct {
		Config struct {
			Cluster struct {
				Enabled  bool `yaml:"enabled"`
				Replicas int  `yaml:"replicas"`
			} `yaml:"cluster"`
			JetStream struct {
				Enabled   bool `yaml:"enabled"`
				FileStore struct {
					Enabled bool `yaml:"enabled"`
					PVC     struct {
						Enabled bool   `yaml:"enabled"`
						Size    string `yaml:"size"`
					} `yaml:"pvc"`
				} `yaml:"fileStore"`
			} `yaml:"jetstream"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(readFile(t, repoPath(k8sDir, "nats-values.yaml")), &v); err != nil {
		t.Fatal(err)
	}
	if !v.Config.Cluster.Enabled || v.Config.Cluster.Replicas != 3 {
		t.Errorf("nats-values.yaml: config.cluster enabled=%v replicas=%d, want true and 3", v.Config.Cluster.Enabled, v.Config.Cluster.Replicas)
	}
	js := v.Config.JetStream
	if !js.Enabled || !js.FileStore.Enabled || !js.FileStore.PVC.Enabled || js.FileStore.PVC.Size == "" {
		t.Errorf("nats-values.yaml: want config.jetstream enabled with fileStore on a pvc with a size, have %+v", js)
	}
	m := loadK8s(t)
	cm := m.configMap("firebreak")
	if cm == nil {
		t.Fatal("no ConfigMap firebreak")
	}
	if want := "nats://nats:4222"; cm.Data["FIREBREAK_NATS_URL"] != want {
		t.Errorf("ConfigMap firebreak: FIREBREAK_NATS_URL=%q, want %s (the chart's client Service for release \"nats\")", cm.Data["FIREBREAK_NATS_URL"], want)
	}
	if n, _ := strconv.Atoi(cm.Data["FIREBREAK_STREAM_REPLICAS"]); n > v.Config.Cluster.Replicas {
		t.Errorf("%d stream replicas on %d NATS nodes", n, v.Config.Cluster.Replicas)
	}
}

// TestEnvironmentDocumented checks that every FIREBREAK_* variable the
// deployments set, and every one the services read from the environment,
// is described in docs/deploy.md.
func TestEnvironmentDocumented(t *testing.T) {
	doc := string(readFile(t, repoPath("docs", "deploy.md")))
	m := loadK8s(t)
	c := loadCompose(t)
	vars := map[string]string{}
	for _, k := range envReads(t) {
		vars[k] = "read by the code (os.Getenv)"
	}
	for _, n := range c.names() {
		for k := range c.Services[n].Environment {
			if strings.HasPrefix(k, "FIREBREAK_") {
				vars[k] = "set in docker-compose.yml (" + n + ")"
			}
		}
	}
	for svc, d := range m.deployments(t) {
		for k := range k8sEnv(t, m, d.file, d.Spec.Template.Spec.Containers[0]) {
			if strings.HasPrefix(k, "FIREBREAK_") {
				vars[k] = "set in " + k8sDir + " (" + svc + ")"
			}
		}
	}
	if len(vars) < 5 {
		t.Fatalf("found only %v", vars)
	}
	for k, where := range vars {
		if !strings.Contains(doc, "`"+k+"`") {
			t.Errorf("%s is %s but docs/deploy.md does not describe it: add a row `%s` to its variables table", k, where, k)
		}
	}
	// And what the code reads is set somewhere it is deployed.
	for _, k := range envReads(t) {
		set := false
		for _, d := range m.ofKind("Deployment") {
			if _, ok := k8sEnv(t, m, d.file, d.Spec.Template.Spec.Containers[0])[k]; ok {
				set = true
			}
		}
		if !set {
			t.Errorf("the services read %s but no Deployment in %s sets it", k, k8sDir)
		}
	}
}

// envReads returns the FIREBREAK_* variables that service code reads
// directly (os.Getenv / os.LookupEnv with a literal name), outside the
// flags: the packages a `firebreak serve` process runs (internal/, services/).
func envReads(t *testing.T) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	for _, dir := range []string{"internal", "services"} {
		err := filepath.WalkDir(repoPath(dir), func(path string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if de.IsDir() {
				// Test helpers (dbtest, storetest) read test-only variables.
				if strings.HasSuffix(de.Name(), "test") || de.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Getenv" && sel.Sel.Name != "LookupEnv") {
					return true
				}
				if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "os" {
					return true
				}
				if s, ok := stringLit(call.Args[0]); ok && strings.HasPrefix(s, "FIREBREAK_") && !slices.Contains(out, s) {
					out = append(out, s)
				}
				return true
			})
			return nil
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}
