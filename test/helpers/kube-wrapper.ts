// The Kubernetes binaries the test release server serves for v1.32–v1.35: no such binary runs on this
// machine (the newest Kubernetes it can build is Debian's v1.20.2), so each file is a small wrapper that
// first checks every flag and config field it is given against that exact minor's lists
// (test/fixtures/upstream-flags/v1.3x.json, extracted from upstream's source; their notes say from which
// commits) and fails on anything unknown, the way the real binary would; then translates, loudly, what
// v1.20 cannot take, and runs the v1.20 binary. Nothing is dropped silently: every translation is printed
// on stderr (the unit's journal).
//
// Translations (each because the v1.20 binary refuses or ignores the newer form):
// - a flag v1.20 does not have (`<binary> --help` lists its flags) is dropped;
// - kube-scheduler: kubescheduler.config.k8s.io/v1 is read as v1beta1 (v1.20 has no v1: "no kind
//   KubeSchedulerConfiguration is registered for version kubescheduler.config.k8s.io/v1");
// - kubelet: containerRuntimeEndpoint and registerWithTaints become --container-runtime=remote
//   --container-runtime-endpoint and --register-with-taints (v1.20's config has neither field and its
//   lenient decoder would ignore them: "using lenient decoding as strict decoding failed").
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/upstream-flags');

export interface UpstreamLists {
  release: string;
  commit: string;
  flags: Record<string, string[]>;
  configFields: Record<string, string[]>;
}

/** The lists for a minor ("1.34" or "v1.34.2"). */
export function upstreamLists(version: string): UpstreamLists {
  const minor = version.replace(/^v/, '').split('.').slice(0, 2).join('.');
  return JSON.parse(readFileSync(path.join(fixtures, `v${minor}.json`), 'utf8')) as UpstreamLists;
}

export const KUBE_BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy'] as const;

/** Where the machines find the v1.20 binaries (bind-mounted read-only from the build cache). */
export const REAL_KUBE_DIR = '/opt/hardway-test/kubernetes-v1.20.2';

/** The wrapper served as `https://dl.k8s.io/release/<version>/bin/linux/amd64/<binary>`. */
export function kubeWrapper(version: string, binary: (typeof KUBE_BINARIES)[number], realDir = REAL_KUBE_DIR): string {
  const l = upstreamLists(version);
  const known = { binary, version, release: l.release, commit: l.commit, flags: l.flags[binary], config: l.configFields };
  return `#!/usr/bin/python3
# hardway test stand-in for ${binary} ${version} (see test/helpers/kube-wrapper.ts): checks flags and config
# fields against Kubernetes ${l.release} (commit ${l.commit}), then runs the v1.20.2 binary.
import json, os, re, subprocess, sys
import yaml

KNOWN = json.loads(${JSON.stringify(JSON.stringify(known))})
REAL = os.environ.get("HARDWAY_REAL_KUBE_DIR", ${JSON.stringify(realDir)}) + "/" + KNOWN["binary"]
NAME = "%s %s" % (KNOWN["binary"], KNOWN["version"])

def say(msg):
    print("hardway test wrapper: %s: %s" % (NAME, msg), file=sys.stderr, flush=True)

def die(msg):
    say(msg + " (not in Kubernetes %s, commit %s)" % (KNOWN["release"], KNOWN["commit"]))
    sys.exit(2)

# Flags as given: --name=value, --name value, or a bare --name (a boolean).
args, i, flags = sys.argv[1:], 0, []
while i < len(args):
    a = args[i]
    if not a.startswith("-"):
        die("unexpected argument %r" % a)
    body = a.lstrip("-")
    if "=" in body:
        name, value = body.split("=", 1)
    elif i + 1 < len(args) and not args[i + 1].startswith("-"):
        name, value = body, args[i + 1]
        i += 1
    else:
        name, value = body, None
    name = name.replace("_", "-")
    if name not in KNOWN["flags"]:
        die("unknown flag --%s" % name)
    flags.append([name, value])
    i += 1

def paths(doc, prefix, fields, out):
    for k, v in doc.items():
        p = prefix + k
        out.append(p)
        # Descend only where the type has nested fields (maps such as featureGates are values).
        if isinstance(v, dict) and any(f.startswith(p + ".") for f in fields):
            paths(v, p + ".", fields, out)
    return out

config = next((v for n, v in flags if n == "config"), None)
doc = None
if config is not None:
    with open(config) as f:
        doc = yaml.safe_load(f) or {}
    kind = doc.get("kind")
    fields = KNOWN["config"].get(kind)
    if fields is None:
        die("config %s: unknown kind %r" % (config, kind))
    unknown = [p for p in paths(doc, "", fields, []) if p not in fields]
    if unknown:
        die("config %s: unknown %s field(s) %s" % (config, kind, ", ".join(unknown)))

# Translation for v1.20.
help_text = subprocess.run([REAL, "--help"], capture_output=True, text=True).stdout
v120 = set(re.findall(r"^\\s+(?:-\\w, )?--([a-z0-9-]+)", help_text, re.M))
out = []
for name, value in flags:
    if name not in v120:
        say("v1.20 has no --%s: dropped" % name)
        continue
    out.append([name, value])
if doc is not None:
    changed = False
    if doc.get("apiVersion") == "kubescheduler.config.k8s.io/v1":
        doc["apiVersion"] = "kubescheduler.config.k8s.io/v1beta1"
        say("config read as kubescheduler.config.k8s.io/v1beta1 (v1.20 has no v1)")
        changed = True
    if doc.get("kind") == "KubeletConfiguration":
        ep = doc.pop("containerRuntimeEndpoint", None)
        if ep:
            out += [["container-runtime", "remote"], ["container-runtime-endpoint", ep]]
            say("containerRuntimeEndpoint passed as --container-runtime=remote --container-runtime-endpoint=%s" % ep)
            changed = True
        taints = doc.pop("registerWithTaints", None)
        if taints:
            value = ",".join("%s%s:%s" % (t["key"], "=" + t["value"] if t.get("value") else "", t["effect"]) for t in taints)
            out.append(["register-with-taints", value])
            say("registerWithTaints passed as --register-with-taints=%s" % value)
            changed = True
    if changed:
        run_dir = os.environ.get("HARDWAY_WRAPPER_RUN_DIR", "/run/hardway-test")
        os.makedirs(run_dir, exist_ok=True)
        translated = "%s/%s-config.yaml" % (run_dir, KNOWN["binary"])
        with open(translated, "w") as f:
            yaml.safe_dump(doc, f)
        out = [[n, translated if n == "config" else v] for n, v in out]
argv = [REAL] + ["--" + n if v is None else "--%s=%s" % (n, v) for n, v in out]
# Tests of the wrapper itself ask for the command instead of running it.
if os.environ.get("HARDWAY_WRAPPER_DRY_RUN") == "1":
    print(json.dumps(argv))
    sys.exit(0)
os.execv(REAL, argv)
`;
}
