package deploy_test

// Loading and reading the deployment files: docker-compose.yml (yaml.v3,
// with its anchors and merge keys), the Dockerfile, .dockerignore, and the
// flags the cobra commands in cmd/firebreak define (go/ast).

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// root is the repository root, relative to this package's directory (where
// go test runs).
const root = ".."

func repoPath(parts ...string) string { return filepath.Join(append([]string{root}, parts...)...) }

// compose is the part of a Compose file the tests read.
type compose struct {
	Services map[string]*service `yaml:"services"`
	Volumes  map[string]any      `yaml:"volumes"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

type service struct {
	Image       string                   `yaml:"image"`
	Build       *build                   `yaml:"build"`
	Command     command                  `yaml:"command"`
	Environment env                      `yaml:"environment"`
	DependsOn   dependsOn                `yaml:"depends_on"`
	Ports       []string                 `yaml:"ports"`
	Volumes     []string                 `yaml:"volumes"`
	Secrets     []string                 `yaml:"secrets"`
	Restart     string                   `yaml:"restart"`
	Healthcheck *struct{ Test []string } `yaml:"healthcheck"`
}

// build accepts both `build: .` and `build: {context, dockerfile}`.
type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func (b *build) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain build
	return n.Decode((*plain)(b))
}

// command is a command in exec form. The shell form (a string) is refused:
// the image has no shell.
type command []string

func (c *command) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return fmt.Errorf("line %d: command %q: use the exec form [\"serve\", \"name\"] (the image has no shell)", n.Line, n.Value)
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*c = s
	return nil
}

// env accepts both the map and the list ("K=V") form.
type env map[string]string

func (e *env) UnmarshalYAML(n *yaml.Node) error {
	*e = env{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
		return nil
	}
	var m map[string]*string
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		if v == nil {
			(*e)[k] = ""
		} else {
			(*e)[k] = *v
		}
	}
	return nil
}

// dependsOn maps each dependency to its condition; the list form means
// service_started.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, s := range list {
			(*d)[s] = "service_started"
		}
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		c := v.Condition
		if c == "" {
			c = "service_started"
		}
		(*d)[k] = c
	}
	return nil
}

func loadCompose(t *testing.T) *compose {
	t.Helper()
	return parseCompose(t, readFile(t, repoPath("docker-compose.yml")))
}

func parseCompose(t *testing.T, b []byte) *compose {
	t.Helper()
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	return &c
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// names returns the services' names, sorted, for stable output.
func (c *compose) names() []string {
	var out []string
	for n := range c.Services {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// isFirebreak reports whether a container runs the firebreak binary:
// `firebreak serve …` or `firebreak migrate`.
func isFirebreak(s *service) bool {
	return len(s.Command) > 0 && (s.Command[0] == "serve" || s.Command[0] == "migrate")
}

// natsNodes are the containers running nats-server, sorted.
func (c *compose) natsNodes() []string {
	var out []string
	for _, n := range c.names() {
		img := c.Services[n].Image
		if strings.HasPrefix(img, "nats:") || strings.Contains(img, "/nats:") {
			out = append(out, n)
		}
	}
	return out
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate expands ${VAR}, ${VAR:-default} and ${VAR:?message} as Compose
// does with an empty environment, except that required variables become
// "<VAR>".
func interpolate(s string) string {
	return interpolation.ReplaceAllStringFunc(s, func(m string) string {
		p := interpolation.FindStringSubmatch(m)
		switch {
		case strings.HasSuffix(p[2], "-"):
			return p[3]
		case strings.HasSuffix(p[2], "?"):
			return "<" + p[1] + ">"
		}
		return ""
	})
}

// portMapping splits "[ip:]host:container[/proto]" into host and container
// parts, after interpolation.
func portMapping(p string) (host, container string, err error) {
	p = strings.TrimSuffix(interpolate(p), "/tcp")
	i := strings.LastIndex(p, ":")
	if i < 0 {
		return "", p, nil
	}
	container = p[i+1:]
	host = p[:i]
	if j := strings.LastIndex(host, ":"); j >= 0 {
		host = host[j+1:]
	}
	if _, err := strconv.Atoi(container); err != nil {
		return "", "", fmt.Errorf("port %q: container port %q is not a number", p, container)
	}
	return host, container, nil
}

// dockerfile is a parsed Dockerfile: its stages, each a list of
// instructions (continuation lines joined, comments dropped).
type dockerfile struct {
	stages []stage
}

type stage struct {
	from, name   string
	instructions []instruction
}

type instruction struct {
	cmd  string // upper case: RUN, COPY, USER, …
	args string
}

func parseDockerfile(text string) (*dockerfile, error) {
	var (
		d       dockerfile
		pending string
	)
	for ln, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if pending == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			pending += cont + " "
			continue
		}
		full := strings.TrimSpace(pending + trimmed)
		pending = ""
		if full == "" {
			continue
		}
		cmd, args, _ := strings.Cut(full, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			f = slices.DeleteFunc(f, func(s string) bool { return strings.HasPrefix(s, "--platform") })
			if len(f) == 0 {
				return nil, fmt.Errorf("line %d: FROM without an image", ln+1)
			}
			st := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			d.stages = append(d.stages, st)
			continue
		}
		if len(d.stages) == 0 {
			if in.cmd == "ARG" {
				continue
			}
			return nil, fmt.Errorf("line %d: %s before FROM", ln+1, in.cmd)
		}
		last := &d.stages[len(d.stages)-1]
		last.instructions = append(last.instructions, in)
	}
	if len(d.stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return &d, nil
}

func (s *stage) all(cmd string) []string {
	var out []string
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// flagMethods are the pflag methods that define a flag; for the *Var forms
// the name is the second argument.
var flagMethods = regexp.MustCompile(`^(String|Bool|Int|Int64|Uint|Float64|Duration|StringSlice|StringArray|StringToString|Count)(Var)?(P)?$`)

// commandFlags parses cmd/firebreak/*.go and returns, for each cobra command
// (the first word of its Use), the flags defined in the function that
// builds it, plus the root's persistent flags under "".
func commandFlags(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(repoPath("cmd", "firebreak", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in cmd/firebreak: %v", err)
	}
	fset := token.NewFileSet()
	out := map[string][]string{}
	// Flags a command function declares through a helper of the package
	// (addNotifyFlags(f)) count as the command's: helpers maps a function
	// to the flags it declares, uses a command to the functions it calls.
	helpers := map[string][]string{}
	uses := map[string][]string{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			var cmds, flags, called []string
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CompositeLit:
					if sel, ok := n.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Command" {
						for _, el := range n.Elts {
							kv, ok := el.(*ast.KeyValueExpr)
							if !ok {
								continue
							}
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Use" {
								if use, ok := stringLit(kv.Value); ok {
									name, _, _ := strings.Cut(use, " ")
									if name == "firebreak" {
										name = ""
									}
									cmds = append(cmds, name)
								}
							}
						}
					}
				case *ast.CallExpr:
					if id, ok := n.Fun.(*ast.Ident); ok {
						called = append(called, id.Name)
					}
					sel, ok := n.Fun.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					m := flagMethods.FindStringSubmatch(sel.Sel.Name)
					if m == nil {
						return true
					}
					i := 0
					if m[2] == "Var" {
						i = 1
					}
					if i < len(n.Args) {
						if name, ok := stringLit(n.Args[i]); ok {
							flags = append(flags, name)
						}
					}
				}
				return true
			})
			if len(cmds) == 0 {
				helpers[fn.Name.Name] = flags
			}
			for _, c := range cmds {
				out[c] = append(out[c], flags...)
				uses[c] = append(uses[c], called...)
			}
		}
	}
	for c, fns := range uses {
		for _, f := range fns {
			out[c] = append(out[c], helpers[f]...)
		}
	}
	return out
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// flagOfEnv is the flag an environment variable sets (envName in
// cmd/firebreak/root.go, backwards).
func flagOfEnv(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "FIREBREAK_")
	if !ok {
		return "", false
	}
	return strings.ToLower(strings.ReplaceAll(rest, "_", "-")), true
}

// dockerignore matches paths against .dockerignore patterns the way Docker
// does: patterns are relative to the context root, * and ? stay inside one
// path element, ** spans any number, a pattern that matches a directory
// excludes everything below it, and later !patterns re-include.
type dockerignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	re      *regexp.Regexp
	exclude bool
	pattern string
}

func parseDockerignore(text string) (*dockerignore, error) {
	var d dockerignore
	for _, line := range strings.Split(text, "\n") {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		exclude := true
		if rest, ok := strings.CutPrefix(p, "!"); ok {
			exclude, p = false, strings.TrimSpace(rest)
		}
		p = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(p)), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch c := p[i]; {
			case c == '*' && i+1 < len(p) && p[i+1] == '*':
				i++
				if i+1 < len(p) && p[i+1] == '/' {
					i++
					re.WriteString("(?:.*/)?")
				} else {
					re.WriteString(".*")
				}
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("(?:/.*)?$")
		r, err := regexp.Compile(re.String())
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
		d.rules = append(d.rules, ignoreRule{re: r, exclude: exclude, pattern: line})
	}
	return &d, nil
}

// excluded reports whether path (slash-separated, relative to the context)
// is left out of the build context, and by which pattern.
func (d *dockerignore) excluded(path string) (bool, string) {
	ex, by := false, ""
	for _, r := range d.rules {
		if r.re.MatchString(path) {
			ex, by = r.exclude, r.pattern
		}
	}
	return ex, by
}
