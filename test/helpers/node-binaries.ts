// What the test release server puts in each published file for the machines, component by component:
// - real: etcd 3.5.30 (Debian unstable), runc 1.1.5 and the CNI plugins (Debian bookworm), kubectl v1.20.2;
// - real behind a checking wrapper: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
//   kube-proxy (v1.20.2; test/helpers/kube-wrapper.ts) and containerd (1.6.20, Debian bookworm; below);
// - stand-ins, because nothing real exists here: flanneld and the flannel CNI plugin (below), crictl.
// The real binaries are bind-mounted read-only into every machine under /opt/hardway-test (machine-cloud.ts)
// and the wrappers run them from there.
import path from 'node:path';
import { kubeWrapper, KUBE_BINARIES } from './kube-wrapper.ts';
import { kubeBinDir, cacheDir } from '../env/cluster.ts';

/** Debian's containerd, runc and CNI plugins (test/env/fetch-node-bin.sh). */
export const nodeBinDir = path.join(cacheDir, 'node-bin');
export const NODE_BIN_MOUNT = '/opt/hardway-test/node-bin';

/**
 * containerd 1.6 in place of 2.x: kubelet v1.20 speaks CRI v1alpha2, which containerd 2.0 removed. The
 * rendered config (version 3, containerd 2.x) is checked key by key and translated to version 2 for 1.6;
 * a key it has no translation for stops containerd (never dropped). One addition for the machine, not
 * the config: restrict_oom_score_adj, because these machines lack CAP_SYS_RESOURCE
 * (../shared/design/REAL-NODES.md).
 */
export const containerdWrapper = `#!/usr/bin/python3
# hardway test stand-in for containerd 2.x (see test/helpers/node-binaries.ts): translates a version 3
# config for Debian's containerd 1.6.20 and runs it.
import os, sys, tomllib

REAL = "${NODE_BIN_MOUNT}/containerd/usr/bin/containerd"
def say(msg):
    print("hardway test wrapper: containerd: " + msg, file=sys.stderr, flush=True)
def die(msg):
    say(msg)
    sys.exit(2)

args = sys.argv[1:]
config = next((a.split("=", 1)[1] for a in args if a.startswith("--config=")), None)
if config is None:
    os.execv(REAL, [REAL] + args)
with open(config, "rb") as f:
    doc = tomllib.load(f)
if doc.get("version") != 3:
    die("%s: version %r, not 3 (containerd 2.x)" % (config, doc.get("version")))
cri = "plugins.\\"io.containerd.grpc.v1.cri\\""
out = ["version = 2", "", "[%s]" % cri, "  restrict_oom_score_adj = true"]
say("restrict_oom_score_adj = true added (the test machines lack CAP_SYS_RESOURCE)")
def q(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return '"%s"' % v
for name, section in doc.get("plugins", {}).items():
    if name == "io.containerd.cri.v1.runtime":
        for key, value in section.items():
            if key == "containerd":
                for rname, rt in value.get("runtimes", {}).items():
                    out.append("  [%s.containerd.runtimes.%s]" % (cri, rname))
                    for k, v in rt.items():
                        if k == "options":
                            out.append("    [%s.containerd.runtimes.%s.options]" % (cri, rname))
                            out += ["      %s = %s" % (ok, q(ov)) for ok, ov in v.items()]
                        elif k == "runtime_type":
                            out.append("    runtime_type = %s" % q(v))
                        else:
                            die("no translation for runtimes.%s.%s" % (rname, k))
                extra = [k for k in value if k != "runtimes"]
                if extra:
                    die("no translation for containerd.%s" % ", ".join(extra))
            elif key == "cni":
                out.append("  [%s.cni]" % cri)
                for k, v in value.items():
                    if k == "bin_dirs":
                        if len(v) != 1:
                            die("containerd 1.6 takes one CNI bin_dir, not %r" % v)
                        out.append("    bin_dir = %s" % q(v[0]))
                    elif k == "conf_dir":
                        out.append("    conf_dir = %s" % q(v))
                    else:
                        die("no translation for cni.%s" % k)
            else:
                die("no translation for %s.%s" % (name, key))
    else:
        die("no translation for plugin %s" % name)
os.makedirs("/run/hardway-test", exist_ok=True)
translated = "/run/hardway-test/containerd-config.toml"
with open(translated, "w") as f:
    f.write("\\n".join(out) + "\\n")
say("config %s translated to version 2 for containerd 1.6 in %s" % (config, translated))
os.execv(REAL, [REAL] + ["--config=" + translated if a.startswith("--config=") else a for a in args])
`;

/**
 * flanneld (Debian has no flannel): does what the flannel CNI plugin needs of it and no more. It reads its
 * Node's spec.podCIDR (allocated by the controller manager) with the kubeconfig it is given, writes
 * /run/flannel/subnet.env in flanneld's format (FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU,
 * FLANNEL_IPMASQ; flannel-io/flannel pkg/subnet/subnet.go WriteSubnetFile at v0.28.9-8-gcdf76059), masquerades
 * pods' traffic leaving the pod network when given --ip-masq, and stays running. No VXLAN: pods reach pods
 * on their own node only.
 */
const flanneldStandIn = `#!/usr/bin/python3
import ipaddress, json, os, signal, ssl, sys, time, urllib.request, yaml
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
def say(msg):
    print("hardway test stand-in for flanneld: " + msg, file=sys.stderr, flush=True)
kc = yaml.safe_load(open(args["kubeconfig-file"]))
cluster, user = kc["clusters"][0]["cluster"], kc["users"][0]["user"]
ctx = ssl.create_default_context(cafile=cluster["certificate-authority"])
ctx.load_cert_chain(user["client-certificate"], user["client-key"])
network = json.load(open(args["net-config-path"]))["Network"]
node = os.environ["NODE_NAME"]
while True:
    try:
        with urllib.request.urlopen("%s/api/v1/nodes/%s" % (cluster["server"], node), context=ctx, timeout=5) as r:
            cidr = json.load(r)["spec"].get("podCIDR")
        if cidr:
            break
        say("node %s has no podCIDR yet" % node)
    except Exception as e:
        say("waiting for node %s: %s" % (node, e))
    time.sleep(2)
net = ipaddress.ip_network(cidr)
os.makedirs("/run/flannel", exist_ok=True)
with open("/run/flannel/subnet.env", "w") as f:
    f.write("FLANNEL_NETWORK=%s\\nFLANNEL_SUBNET=%s/%d\\nFLANNEL_MTU=1450\\nFLANNEL_IPMASQ=%s\\n" % (network, net.network_address + 1, net.prefixlen, "true" if "--ip-masq" in sys.argv else "false"))
say("node %s: subnet %s written to /run/flannel/subnet.env (no VXLAN: a stand-in)" % (node, cidr))
if "--ip-masq" in sys.argv:
    # Pods' traffic leaving the pod network is masqueraded, as flanneld --ip-masq does (the RETURN and
    # MASQUERADE rules of flannel-io/flannel v0.28.9 pkg/trafficmngr/iptables/iptables.go, without the
    # kube-proxy mark and IPv6 ones); re-run safe.
    import subprocess
    ipt = lambda *a: subprocess.run(["iptables", "-w", "-t", "nat", *a], capture_output=True).returncode
    ipt("-N", "FLANNEL-POSTRTG")
    for spec in (["-s", network, "-d", network, "-j", "RETURN"], ["-s", network, "!", "-d", "224.0.0.0/4", "-j", "MASQUERADE"]):
        if ipt("-C", "FLANNEL-POSTRTG", *spec) != 0:
            ipt("-A", "FLANNEL-POSTRTG", *spec)
    if ipt("-C", "POSTROUTING", "-j", "FLANNEL-POSTRTG") != 0:
        ipt("-A", "POSTROUTING", "-j", "FLANNEL-POSTRTG")
    say("pod traffic leaving %s is masqueraded" % network)
signal.pause()
`;

/**
 * The flannel CNI plugin (Debian has none): delegates to the bridge plugin with host-local addresses
 * from /run/flannel/subnet.env, as the real one does (flannel-io/cni-plugin flannel_linux.go doCmdAdd and
 * getDelegateIPAM at v1.9.1-flannel1-4-g092e6d2: type bridge (whose default bridge is cni0), isGateway,
 * ipMasq unless flanneld masquerades, host-local over FLANNEL_SUBNET's network with a route to FLANNEL_NETWORK). The bridge and host-local plugins are Debian's, real.
 */
const flannelCniStandIn = `#!/usr/bin/python3
import ipaddress, json, os, subprocess, sys
conf = json.load(sys.stdin)
if os.environ.get("CNI_COMMAND") == "VERSION":
    print(json.dumps({"cniVersion": conf.get("cniVersion", "1.0.0"), "supportedVersions": ["0.3.1", "0.4.0", "1.0.0"]}))
    sys.exit(0)
env = dict(l.strip().split("=", 1) for l in open("/run/flannel/subnet.env") if "=" in l)
delegate = dict(conf.get("delegate") or {})
delegate.setdefault("type", "bridge")
delegate.setdefault("bridge", "cni0")
delegate.setdefault("isGateway", True)
delegate.setdefault("ipMasq", env.get("FLANNEL_IPMASQ") != "true")
delegate.setdefault("mtu", int(env.get("FLANNEL_MTU", "1450")))
delegate["cniVersion"], delegate["name"] = conf.get("cniVersion"), conf.get("name")
# The network of FLANNEL_SUBNET (Go's net.ParseCIDR, which the real plugin uses, masks the host bits).
subnet = str(ipaddress.ip_interface(env["FLANNEL_SUBNET"]).network)
delegate["ipam"] = {"type": "host-local", "ranges": [[{"subnet": subnet}]], "routes": [{"dst": env["FLANNEL_NETWORK"]}]}
if "prevResult" in conf:
    delegate["prevResult"] = conf["prevResult"]
r = subprocess.run(["/opt/cni/bin/" + delegate["type"]], input=json.dumps(delegate), capture_output=True, text=True)
sys.stdout.write(r.stdout)
sys.stderr.write(r.stderr)
sys.exit(r.returncode)
`;

/** The `file` option of startReleaseServer for the machines. */
export function machineFile(component: string, name: string): string | { file: string } | undefined {
  const deb = (pkg: string, p: string) => ({ file: path.join(nodeBinDir, pkg, p) });
  switch (component) {
    case 'containerd':
      if (name === 'bin/containerd') return containerdWrapper;
      if (name === 'bin/containerd-shim-runc-v2' || name === 'bin/ctr') return deb('containerd', `usr/bin/${path.basename(name)}`);
      return undefined;
    case 'runc':
      return deb('runc', 'usr/sbin/runc');
    case 'cni':
      return deb('cni', `usr/lib/cni/${path.basename(name)}`);
    case 'flanneld':
      return flanneldStandIn;
    case 'flannel-cni':
      return flannelCniStandIn;
    case 'kubernetes': {
      const [version, bin] = name.split('/') as [string, string];
      if (bin === 'kubectl') return { file: path.join(kubeBinDir, 'kubectl') };
      if ((KUBE_BINARIES as readonly string[]).includes(bin)) return kubeWrapper(version, bin as (typeof KUBE_BINARIES)[number]);
      return undefined;
    }
    default:
      return undefined;
  }
}
