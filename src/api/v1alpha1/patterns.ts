// Regular expressions shared by the CRD schema (RE2 on the API server: no look-arounds, no back-references)
// and the operator's own validation. Shapes only; ranges and meaning are checked in validation.ts.

const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';

/** DNS-1123 label: what object names must be, since they become droplet names, DNS labels and DO tags. */
export const DNS1123_LABEL = `^${LABEL}$`;
/** A fully qualified lowercase domain with at least two labels; the last starts with a letter (not an IP). */
export const DOMAIN = `^(${LABEL}\\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`;
/** A domain that may also be a single label, such as the cluster domain "local". */
export const DOMAIN_OR_SINGLE = `^${LABEL}(\\.${LABEL})*$`;
export const REGION = '^[a-z]{3}[0-9]$';
export const SLUG = '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$';
export const SSH_KEY = '^([0-9]{1,12}|([0-9a-f]{2}:){15}[0-9a-f]{2})$';
export const UUID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
export const DO_TAG = '^[A-Za-z0-9_:-]+$';
export const CIDR4 = '^([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}$';
export const CIDR_ANY = '^(([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}|[0-9a-fA-F]{0,4}:[0-9a-fA-F:.]*/[0-9]{1,3})$';
export const ETCD_VERSION = '^3\\.[0-9]+\\.[0-9]+$';
export const KUBE_VERSION = '^v1\\.[0-9]+\\.[0-9]+$';
export const CONDITION_TYPE =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$';
export const REASON = '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$';
/** Label/taint key: optional DNS-subdomain prefix and a name part of at most 63 characters. */
export const QUALIFIED_NAME =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
export const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';

export const test = (pattern: string, value: string): boolean => new RegExp(pattern).test(value);
