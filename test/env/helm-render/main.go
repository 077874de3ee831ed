// helm-render renders a Helm chart the way `helm template --include-crds` does, with the same engine Helm
// uses: Go's text/template plus sprig v3 (Debian's golang-github-masterminds-sprig-dev), and the functions
// Helm adds on top (include, tpl, required, toYaml, fromYaml, toJson, fromJson, lookup). It exists so the
// tests render charts/hardway-operator with the real template engine on a machine without Helm.
//
// What it implements of Helm: Chart.yaml as .Chart (Name, Version, AppVersion, ...), values.yaml deep-merged
// with -f files and --set key.path=value (null deletes, as in Helm), .Release (Name, Namespace, Service,
// IsInstall, IsUpgrade, Revision), .Capabilities (KubeVersion, APIVersions.Has), .Template (Name, BasePath),
// missing values rendering as empty ("missingkey=zero" and "<no value>" removed, as Helm does), files whose
// name starts with "_" not rendered, NOTES.txt rendered separately (--notes), crds/ copied verbatim first,
// manifests sorted by Helm's install order. What it does not: subcharts, .Files, hooks, lookup against a live
// cluster (it returns an empty map, as `helm template` does), values.schema.json (the tests check the merged
// values, printed by --values-json, with a JSON Schema validator).
//
// Usage: helm-render [--name N] [--namespace NS] [-f values.yaml]... [--set a.b=c]... [--notes|--values-json] CHART_DIR
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	yamlv2 "gopkg.in/yaml.v2"
	yaml "gopkg.in/yaml.v3"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

type apiVersions []string

// Has reports whether the (simulated) cluster serves a group/version or group/version/Kind.
func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

func main() {
	name := flag.String("name", "release-name", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.20.2", "Kubernetes version for .Capabilities")
	notes := flag.Bool("notes", false, "print the rendered NOTES.txt instead of the manifests")
	valuesJSON := flag.Bool("values-json", false, "print the merged values as JSON instead of the manifests")
	noCrds := flag.Bool("skip-crds", false, "leave out crds/")
	var valueFiles, sets, apis multi
	flag.Var(&valueFiles, "f", "values file (repeatable)")
	flag.Var(&sets, "set", "key.path=value (repeatable)")
	flag.Var(&apis, "api-versions", "extra API version for .Capabilities.APIVersions (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fail("usage: helm-render [flags] CHART_DIR")
	}
	chartDir := flag.Arg(0)

	chart := map[string]interface{}{}
	must(readYAML(filepath.Join(chartDir, "Chart.yaml"), &chart))
	chartMeta := map[string]interface{}{}
	for k, v := range chart {
		// Helm exposes Chart.yaml fields with an upper-case first letter (.Chart.Name, .Chart.AppVersion).
		chartMeta[strings.ToUpper(k[:1])+k[1:]] = v
	}
	chartName, _ := chart["name"].(string)

	values := map[string]interface{}{}
	if _, err := os.Stat(filepath.Join(chartDir, "values.yaml")); err == nil {
		must(readYAML(filepath.Join(chartDir, "values.yaml"), &values))
	}
	for _, f := range valueFiles {
		override := map[string]interface{}{}
		must(readYAML(f, &override))
		values = mergeValues(values, override)
	}
	for _, s := range sets {
		must(setValue(values, s))
	}
	if *valuesJSON {
		out, err := json.MarshalIndent(values, "", "  ")
		must(err)
		fmt.Println(string(out))
		return
	}

	major, minor := "1", "20"
	if parts := strings.SplitN(strings.TrimPrefix(*kubeVersion, "v"), ".", 3); len(parts) >= 2 {
		major, minor = parts[0], parts[1]
	}
	versions := apiVersions(append([]string{"v1", "apps/v1", "rbac.authorization.k8s.io/v1", "coordination.k8s.io/v1", "apiextensions.k8s.io/v1"}, apis...))
	top := map[string]interface{}{
		"Values": values,
		"Chart":  chartMeta,
		"Release": map[string]interface{}{
			"Name": *name, "Namespace": *namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": *kubeVersion, "GitVersion": *kubeVersion, "Major": major, "Minor": minor},
			"APIVersions": versions,
		},
	}

	// Every file under templates/ is parsed into one template set, named <chart>/templates/<path>.
	root := template.New("gotpl")
	root.Option("missingkey=zero")
	funcs := funcMap(root)
	root.Funcs(funcs)
	var names []string
	tplDir := filepath.Join(chartDir, "templates")
	must(filepath.Walk(tplDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tplDir, p)
		tname := chartName + "/templates/" + filepath.ToSlash(rel)
		text, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if _, err := root.New(tname).Parse(string(text)); err != nil {
			return err
		}
		names = append(names, tname)
		return nil
	}))
	sort.Strings(names)

	render := func(tname string) string {
		scope := map[string]interface{}{}
		for k, v := range top {
			scope[k] = v
		}
		scope["Template"] = map[string]interface{}{"Name": tname, "BasePath": chartName + "/templates"}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, tname, scope); err != nil {
			fail(err.Error())
		}
		return strings.ReplaceAll(buf.String(), "<no value>", "")
	}

	if *notes {
		fmt.Print(render(chartName + "/templates/NOTES.txt"))
		return
	}

	var out strings.Builder
	if !*noCrds {
		crds, _ := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
		sort.Strings(crds)
		for _, c := range crds {
			text, err := os.ReadFile(c)
			must(err)
			fmt.Fprintf(&out, "---\n# Source: %s/crds/%s\n%s", chartName, filepath.Base(c), ensureNewline(string(text)))
		}
	}
	type doc struct {
		source, text, kind string
		order, seq        int
	}
	var docs []doc
	for _, tname := range names {
		base := filepath.Base(tname)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" {
			continue
		}
		for _, part := range splitDocuments(render(tname)) {
			var head struct {
				Kind string `yaml:"kind"`
			}
			if err := yaml.Unmarshal([]byte(part), &head); err != nil {
				fail(fmt.Sprintf("%s: rendered YAML does not parse: %v\n%s", tname, err, part))
			}
			docs = append(docs, doc{source: tname, text: part, kind: head.Kind, order: installOrder(head.Kind), seq: len(docs)})
		}
	}
	sort.SliceStable(docs, func(i, j int) bool { return docs[i].order < docs[j].order })
	for _, d := range docs {
		fmt.Fprintf(&out, "---\n# Source: %s\n%s", d.source, ensureNewline(d.text))
	}
	fmt.Print(out.String())
}

// funcMap is sprig's text functions (minus env and expandenv, which Helm removes) plus Helm's own.
func funcMap(root *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	includedNames := map[string]int{}
	f["include"] = func(name string, data interface{}) (string, error) {
		if includedNames[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includedNames[name]++
		defer func() { includedNames[name]-- }()
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = t.Execute(&buf, data)
		return strings.ReplaceAll(buf.String(), "<no value>", ""), err
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, fmt.Errorf(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, fmt.Errorf(msg)
		}
		return v, nil
	}
	f["toYaml"] = func(v interface{}) string {
		b, err := yamlv2.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(b), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	return f
}

// Helm's InstallOrder (pkg/releaseutil/kind_sorter.go); unknown kinds go last.
var order = []string{"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
	"PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
	"PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
	"ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
	"IngressClass", "Ingress", "APIService"}

func installOrder(kind string) int {
	for i, k := range order {
		if k == kind {
			return i
		}
	}
	return len(order)
}

// splitDocuments splits a rendered file on "---" lines and drops documents that are empty or only comments,
// as Helm does.
func splitDocuments(s string) []string {
	var docs []string
	var cur []string
	flush := func() {
		text := strings.Join(cur, "\n")
		cur = nil
		for _, line := range strings.Split(text, "\n") {
			t := strings.TrimSpace(line)
			if t != "" && !strings.HasPrefix(t, "#") {
				docs = append(docs, strings.TrimLeft(text, "\n"))
				return
			}
		}
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimRight(line, " ") == "---" {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return docs
}

// mergeValues merges override into base like Helm: maps merge recursively, anything else replaces, and a null
// in the override deletes the key.
func mergeValues(base, override map[string]interface{}) map[string]interface{} {
	for k, v := range override {
		if v == nil {
			delete(base, k)
			continue
		}
		if vm, ok := v.(map[string]interface{}); ok {
			if bm, ok := base[k].(map[string]interface{}); ok {
				base[k] = mergeValues(bm, vm)
				continue
			}
		}
		base[k] = v
	}
	return base
}

// setValue applies one --set key.path=value: true/false are booleans, whole numbers integers, null deletes,
// {a,b} is a list of strings, anything else a string.
func setValue(values map[string]interface{}, s string) error {
	eq := strings.Index(s, "=")
	if eq <= 0 {
		return fmt.Errorf("--set %q: want key=value", s)
	}
	path := strings.Split(s[:eq], ".")
	raw := s[eq+1:]
	var v interface{} = raw
	switch {
	case raw == "true" || raw == "false":
		v = raw == "true"
	case raw == "null":
		v = nil
	case strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}"):
		items := []interface{}{}
		if inner := raw[1 : len(raw)-1]; inner != "" {
			for _, x := range strings.Split(inner, ",") {
				items = append(items, x)
			}
		}
		v = items
	default:
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
			v = int(n)
		}
	}
	m := values
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[k] = next
		}
		m = next
	}
	last := path[len(path)-1]
	if v == nil {
		delete(m, last)
	} else {
		m[last] = v
	}
	return nil
}

func readYAML(path string, into *map[string]interface{}) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(text, into); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if *into == nil {
		*into = map[string]interface{}{}
	}
	return nil
}

func ensureNewline(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

func must(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "helm-render: "+msg)
	os.Exit(1)
}
