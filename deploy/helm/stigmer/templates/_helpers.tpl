{{/*
Names, labels, images and the environment shared by every component.
Component helpers take a dict: (dict "root" $ "name" "runner"), where name is one of
api, orchestrator, runner, operator and selects .Values.<name>.
*/}}

{{- define "stigmer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "stigmer.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of a component's objects: <fullname>-<component>. */}}
{{- define "stigmer.componentName" -}}
{{- printf "%s-%s" (include "stigmer.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "stigmer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object (root context). */}}
{{- define "stigmer.labels" -}}
helm.sh/chart: {{ include "stigmer.chart" . }}
app.kubernetes.io/name: {{ include "stigmer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: stigmer
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of a component's objects. */}}
{{- define "stigmer.componentLabels" -}}
{{ include "stigmer.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* Selector labels of a component: stable across upgrades (immutable in a Deployment). */}}
{{- define "stigmer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stigmer.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* Image reference: registry/repository, then @digest or :tag (default appVersion). */}}
{{- define "stigmer.image" -}}
{{- $image := index .root.Values .name "image" }}
{{- $repository := $image.repository }}
{{- $registry := .root.Values.global.imageRegistry }}
{{- if $registry }}
{{- /* A mirror replaces the registry part (first segment with a dot, a colon, or localhost). */}}
{{- $repository = printf "%s/%s" (trimSuffix "/" $registry) (regexReplaceAll "^([^/]*[.:][^/]*|localhost)/" $repository "") }}
{{- end }}
{{- if $image.digest }}
{{- printf "%s@%s" $repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .root.Chart.AppVersion $image.tag | toString) }}
{{- end }}
{{- end }}

{{- define "stigmer.serviceAccountName" -}}
{{- $sa := index .root.Values .name "serviceAccount" }}
{{- if $sa.create }}
{{- default (include "stigmer.componentName" .) $sa.name }}
{{- else }}
{{- default "default" $sa.name }}
{{- end }}
{{- end }}

{{/* The Temporal settings of a component: global.temporal with the component's overrides. */}}
{{- define "stigmer.temporal" -}}
{{- $component := index .root.Values .name }}
{{- $temporal := mergeOverwrite (deepCopy .root.Values.global.temporal) (default dict $component.temporal) }}
{{- if and (not $temporal.address) .root.Values.devDependencies.enabled }}
{{- $_ := set $temporal "address" (printf "%s-temporal:7233" (include "stigmer.fullname" .root)) }}
{{- end }}
{{- toYaml $temporal }}
{{- end }}

{{/* The API's in-cluster URL, as the workers reach it. */}}
{{- define "stigmer.apiUrl" -}}
{{- printf "http://%s.%s.svc:%v" (include "stigmer.componentName" (dict "root" . "name" "api")) .Release.Namespace .Values.api.service.port }}
{{- end }}

{{- define "stigmer.authSecretName" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecret }}
{{- else if and .Values.inlineSecrets.enabled .Values.inlineSecrets.apiToken }}
{{- printf "%s-inline" (include "stigmer.fullname" .) }}
{{- else }}
{{- printf "%s-auth" (include "stigmer.fullname" .) }}
{{- end }}
{{- end }}

{{- define "stigmer.authKeys" -}}
{{- if or .Values.auth.existingSecret (not (and .Values.inlineSecrets.enabled .Values.inlineSecrets.apiToken)) }}
{{- dict "api" .Values.auth.apiTokenKey "runner" .Values.auth.runnerTokenKey | toYaml }}
{{- else }}
{{- dict "api" "api-token" "runner" "runner-token" | toYaml }}
{{- end }}
{{- end }}

{{/* An EnvVar read from a Secret key. */}}
{{- define "stigmer.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- end }}

{{/* MONGODB_URI: existing Secret, else the inline Secret, else the dev dependency. */}}
{{- define "stigmer.mongodbUriEnv" -}}
{{- if .Values.mongodb.existingSecret }}
{{ include "stigmer.secretEnv" (dict "env" "MONGODB_URI" "secret" .Values.mongodb.existingSecret "key" .Values.mongodb.uriKey) }}
{{- else if and .Values.inlineSecrets.enabled .Values.inlineSecrets.mongodbUri }}
{{ include "stigmer.secretEnv" (dict "env" "MONGODB_URI" "secret" (printf "%s-inline" (include "stigmer.fullname" .)) "key" "mongodb-uri") }}
{{- else if .Values.devDependencies.enabled }}
- name: MONGODB_URI
  value: {{ printf "mongodb://%s-mongodb:27017/" (include "stigmer.fullname" .) | quote }}
{{- end }}
{{- end }}

{{- define "stigmer.redisUrlEnv" -}}
{{- if .Values.redis.existingSecret }}
{{ include "stigmer.secretEnv" (dict "env" "REDIS_URL" "secret" .Values.redis.existingSecret "key" .Values.redis.urlKey) }}
{{- else if and .Values.inlineSecrets.enabled .Values.inlineSecrets.redisUrl }}
{{ include "stigmer.secretEnv" (dict "env" "REDIS_URL" "secret" (printf "%s-inline" (include "stigmer.fullname" .)) "key" "redis-url") }}
{{- else if .Values.devDependencies.enabled }}
- name: REDIS_URL
  value: {{ printf "redis://%s-redis:6379/0" (include "stigmer.fullname" .) | quote }}
{{- end }}
{{- end }}

{{- define "stigmer.payloadKeysPath" -}}/etc/stigmer/payload-keys/keys{{- end }}

{{/*
Environment every Temporal worker and the API share: Temporal, logging, tokens, payload keys.
Called with (dict "root" $ "name" <component>).
*/}}
{{- define "stigmer.commonEnv" -}}
{{- $root := .root }}
{{- $component := index $root.Values .name }}
{{- $temporal := include "stigmer.temporal" . | fromYaml }}
{{- $logging := mergeOverwrite (deepCopy $root.Values.global.logging) (default dict $component.logging) }}
{{- $keys := include "stigmer.authKeys" $root | fromYaml }}
- name: TEMPORAL_HOST_PORT
  value: {{ $temporal.address | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ $temporal.namespace | quote }}
- name: TEMPORAL_WORKFLOW_EXECUTION_STIGMER_TASK_QUEUE
  value: {{ $temporal.stigmerTaskQueue | quote }}
- name: TEMPORAL_WORKFLOW_EXECUTION_RUNNER_TASK_QUEUE
  value: {{ $temporal.runnerTaskQueue | quote }}
- name: STIGMER_LOG_FORMAT
  value: {{ $logging.format | quote }}
- name: STIGMER_LOG_LEVEL
  value: {{ $logging.level | quote }}
{{- if eq .name "api" }}
{{ include "stigmer.secretEnv" (dict "env" "STIGMER_API_TOKEN" "secret" (include "stigmer.authSecretName" $root) "key" $keys.api) }}
{{- else }}
- name: STIGMER_API_URL
  value: {{ include "stigmer.apiUrl" $root | quote }}
{{- end }}
{{ include "stigmer.secretEnv" (dict "env" "STIGMER_RUNNER_TOKEN" "secret" (include "stigmer.authSecretName" $root) "key" $keys.runner) }}
{{- if $root.Values.payloadKeys.existingSecret }}
- name: STIGMER_PAYLOAD_KEYS_FILE
  value: {{ include "stigmer.payloadKeysPath" $root }}
{{- end }}
{{- end }}

{{/* The component's `env` map and `extraEnv` list, appended after the chart's own. */}}
{{- define "stigmer.userEnv" -}}
{{- $component := index .root.Values .name }}
{{- range $name, $value := $component.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with $component.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Pod and container security contexts: global defaults under the component's overrides. */}}
{{- define "stigmer.podSecurityContext" -}}
{{- $component := index .root.Values .name }}
{{- mergeOverwrite (deepCopy .root.Values.global.podSecurityContext) (default dict $component.podSecurityContext) | toYaml }}
{{- end }}

{{- define "stigmer.securityContext" -}}
{{- $component := index .root.Values .name }}
{{- mergeOverwrite (deepCopy .root.Values.global.securityContext) (default dict $component.securityContext) | toYaml }}
{{- end }}

{{/* Scheduling fields of a pod spec. */}}
{{- define "stigmer.scheduling" -}}
{{- $component := index .root.Values .name }}
{{- with $component.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $component.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $component.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $component.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $component.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Annotations that roll the pods when a chart-made Secret changes. */}}
{{- define "stigmer.podAnnotations" -}}
{{- $component := index .root.Values .name }}
{{- with $component.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- if .root.Values.inlineSecrets.enabled }}
checksum/inline-secrets: {{ include (print .root.Template.BasePath "/secret-inline.yaml") .root | sha256sum }}
{{- end }}
{{- end }}

{{/* Volumes every Stigmer pod has: a writable /tmp (the root filesystem is read-only). */}}
{{- define "stigmer.volumes" -}}
{{- $component := index .root.Values .name }}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- if and (ne .name "operator") .root.Values.payloadKeys.existingSecret }}
- name: payload-keys
  secret:
    secretName: {{ .root.Values.payloadKeys.existingSecret }}
    defaultMode: 0400
    items:
      - key: {{ .root.Values.payloadKeys.key }}
        path: keys
{{- end }}
{{- with $component.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "stigmer.volumeMounts" -}}
{{- $component := index .root.Values .name }}
- name: tmp
  mountPath: /tmp
{{- if and (ne .name "operator") .root.Values.payloadKeys.existingSecret }}
- name: payload-keys
  mountPath: /etc/stigmer/payload-keys
  readOnly: true
{{- end }}
{{- with $component.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* True ("true") when an autoscaler owns the runner Deployment's replicas. */}}
{{- define "stigmer.runnerAutoscaled" -}}
{{- if ne .Values.runner.autoscaling.mode "none" }}true{{- end }}
{{- end }}

{{/* Namespaces the operator serves (a list as YAML). */}}
{{- define "stigmer.operatorNamespaces" -}}
{{- if .Values.operator.clusterWide }}
{{- list | toYaml }}
{{- else if .Values.operator.watchNamespaces }}
{{- .Values.operator.watchNamespaces | toYaml }}
{{- else }}
{{- list .Release.Namespace | toYaml }}
{{- end }}
{{- end }}

{{/* Whether the operator Deployment and its RBAC are rendered. */}}
{{- define "stigmer.operatorEnabled" -}}
{{- if and (eq .Values.runner.autoscaling.mode "operator") .Values.operator.install }}true{{- end }}
{{- end }}

{{/* The API's own settings: store, bus and their connections. */}}
{{- define "stigmer.apiEnv" -}}
- name: STIGMER_API_PORT
  value: "8234"
- name: STIGMER_STORE
  value: mongodb
- name: STIGMER_BUS
  value: redis
- name: MONGODB_DATABASE
  value: {{ .Values.mongodb.database | quote }}
{{- include "stigmer.mongodbUriEnv" . }}
{{- include "stigmer.redisUrlEnv" . }}
{{- end }}

{{/* The workers' /metrics, /healthz and /readyz server (matches the `metrics` port). */}}
{{- define "stigmer.observabilityEnv" -}}
- name: STIGMER_OBSERVABILITY_PORT
  value: "9464"
- name: STIGMER_OBSERVABILITY_HOST
  value: 0.0.0.0
{{- end }}

{{/* Rules the operator needs in each namespace it serves. */}}
{{- define "stigmer.operatorRules" -}}
- apiGroups: [autoscaling.stigmer.io]
  resources: [runnerautoscalers]
  verbs: [get, list, watch, patch]
- apiGroups: [autoscaling.stigmer.io]
  resources: [runnerautoscalers/status]
  verbs: [get, patch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get]
- apiGroups: [apps]
  resources: [deployments/scale]
  verbs: [get, patch]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}
