{{/*
The Deployment, ServiceAccount and PodDisruptionBudget of one component.
(dict "root" $ "name" <component> "ports" <list of ContainerPort> "env" <EnvVar YAML>
      "replicas" <bool: render spec.replicas>)
*/}}
{{- define "stigmer.deployment" -}}
{{- $root := .root }}
{{- $component := index $root.Values .name }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "stigmer.componentName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "stigmer.componentLabels" . | nindent 4 }}
spec:
  {{- if .replicas }}
  replicas: {{ $component.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "stigmer.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "stigmer.componentLabels" . | nindent 8 }}
        {{- with $component.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with (include "stigmer.podAnnotations" . | trim) }}
      annotations:
        {{- . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "stigmer.serviceAccountName" . }}
      automountServiceAccountToken: {{ eq .name "operator" }}
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $component.terminationGracePeriodSeconds }}
      securityContext:
        {{- include "stigmer.podSecurityContext" . | trim | nindent 8 }}
      {{- with (include "stigmer.scheduling" . | trim) }}
      {{- . | nindent 6 }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "stigmer.image" . }}
          imagePullPolicy: {{ $component.image.pullPolicy }}
          securityContext:
            {{- include "stigmer.securityContext" . | trim | nindent 12 }}
          ports:
            {{- toYaml .ports | nindent 12 }}
          env:
            {{- .env | trim | nindent 12 }}
            {{- with (include "stigmer.userEnv" . | trim) }}
            {{- . | nindent 12 }}
            {{- end }}
          {{- with $component.extraEnvFrom }}
          envFrom:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          livenessProbe:
            {{- toYaml $component.livenessProbe | nindent 12 }}
          readinessProbe:
            {{- toYaml $component.readinessProbe | nindent 12 }}
          resources:
            {{- toYaml $component.resources | nindent 12 }}
          volumeMounts:
            {{- include "stigmer.volumeMounts" . | trim | nindent 12 }}
      volumes:
        {{- include "stigmer.volumes" . | trim | nindent 8 }}
{{- end }}

{{- define "stigmer.serviceAccount" -}}
{{- $sa := index .root.Values .name "serviceAccount" }}
{{- if $sa.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "stigmer.serviceAccountName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "stigmer.componentLabels" . | nindent 4 }}
  {{- with $sa.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end }}

{{- define "stigmer.pdb" -}}
{{- $pdb := index .root.Values .name "podDisruptionBudget" }}
{{- if $pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "stigmer.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "stigmer.componentLabels" . | nindent 4 }}
spec:
  {{- if $pdb.minAvailable }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "stigmer.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}

{{/* The ClusterIP Service of a worker's metrics port (what ServiceMonitors select); named
after the component, so Prometheus's `job` is e.g. `stigmer-runner` as the dashboards expect. */}}
{{- define "stigmer.metricsService" -}}
{{- $service := index .root.Values .name "service" }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "stigmer.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "stigmer.componentLabels" . | nindent 4 }}
    stigmer.io/metrics: "true"
  {{- with $service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: ClusterIP
  ports:
    - name: metrics
      port: {{ $service.metricsPort }}
      targetPort: metrics
      protocol: TCP
  selector:
    {{- include "stigmer.selectorLabels" . | nindent 4 }}
{{- end }}
