{{/* Name of the chart, or nameOverride. */}}
{{- define "hardway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: the release name when it already contains the chart name, else <release>-<chart>. */}}
{{- define "hardway.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hardway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hardway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hardway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "hardway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: hardway
{{- end -}}

{{- define "hardway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hardway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hardway.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The rules for the three kinds, Secrets and Events: the same whether granted cluster-wide or in one namespace. */}}
{{- define "hardway.rules" -}}
# The three kinds: watched, finalizers added and removed by merge patch.
- apiGroups: [hardway.dev]
  resources: [etcdclusters, controlplanes, workerpools]
  verbs: [get, list, watch, patch]
# Status by server-side apply (a PATCH of the status subresource).
- apiGroups: [hardway.dev]
  resources: [etcdclusters/status, controlplanes/status, workerpools/status]
  verbs: [patch]
# Certificate Secrets carry ownerReferences with blockOwnerDeletion; API servers that enforce
# OwnerReferencesPermissionEnforcement require update on the owner's finalizers.
- apiGroups: [hardway.dev]
  resources: [etcdclusters/finalizers, controlplanes/finalizers, workerpools/finalizers]
  verbs: [update]
# Credentials (read), certificate and kubeconfig Secrets (created, re-issued, deleted with their machine).
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, create, update, delete]
# Warning and Normal events on the three kinds; repeats patch count and lastTimestamp.
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end -}}

{{/* The Lease this release's replicas elect their leader in: one per shard (src/operator.ts leaseName). */}}
{{- define "hardway.leaseName" -}}
{{- if .Values.shard -}}
{{- printf "%s-%s" .Values.leaderElection.leaseName .Values.shard -}}
{{- else -}}
{{- .Values.leaderElection.leaseName -}}
{{- end -}}
{{- end -}}
