"""Every check of one compose file with its .env.example, Dockerfile and .dockerignore."""

import os
import re
import shlex
import subprocess

from . import compose_yaml, env_example
from .command_line import WorkerCommandLine, check_jobsctl
from .dockerfile import DockerfileChecker, check_dockerignore, dockerignore_patterns, ignored, image_reference_problem
from .interpolation import Interpolator, check_documented
from .report import Report
from .secret_rules import URL_WITH_PASSWORD, is_secret_name

_RESTART_POLICIES = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")
_DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
_RESERVED_CONNECTIONS = 3  # superuser_reserved_connections
_CONSOLE_CONNECTIONS = 4 * 2
_POSTGRES_DEFAULT_MAX_CONNECTIONS = 100


class ComposeChecker:
    def __init__(self, root, compose_path, facts):
        self.root = os.path.abspath(root)
        self.compose_path = os.path.abspath(compose_path)
        self.project_dir = os.path.dirname(self.compose_path)
        self.facts = facts
        self.report = Report()
        self.dockerfiles = DockerfileChecker(self.report, facts.executable_products, facts.links_libpq, self.relative)
        self.workers = WorkerCommandLine(facts, self.report)
        self.worked_queues = set()
        self.connection_budget = []  # (service, processes, connections each)
        self.max_connections = None

    def relative(self, path):
        return os.path.relpath(path, self.root)

    def run(self):
        """The report; raises compose_yaml.ComposeFileError when the file cannot be checked."""
        report = self.report
        try:
            document = compose_yaml.load(self.compose_path)
        except compose_yaml.ComposeFileError as error:
            raise compose_yaml.ComposeFileError(f"{self.relative(self.compose_path)} {error}") from error
        report.check()
        if not self.facts.executable_products:
            report.problem("Package.swift declares no executable products")
        env_path = os.path.join(self.project_dir, ".env.example")
        values = {}
        if os.path.isfile(env_path):
            values = env_example.read(env_path, report)
        else:
            report.problem(f"{self.relative(env_path)} is missing: every variable of the compose file must be "
                           "documented there")
        interpolator = Interpolator(values)
        resolved = interpolator.resolve(document, "compose", report)
        check_documented(interpolator, report)
        self.variables = len(interpolator.uses)
        self.services = resolved["services"]
        for name, service in self.services.items():
            if isinstance(service, dict):
                self._service(name, service, resolved)
            else:
                report.problem(f"services.{name}: not a mapping")
        self._top_level_secrets(resolved.get("secrets") or {})
        self._every_queue_worked()
        self._connection_budget()
        check_dockerignore(self.root, report)
        report.note(self.facts.source)
        return report

    # ---- one service -----------------------------------------------------------------

    def _service(self, name, service, resolved):
        where = f"services.{name}"
        image_report = self._image_and_build(service, where)
        restart = service.get("restart")
        if restart is not None and (not isinstance(restart, str) or not _RESTART_POLICIES.match(restart)):
            self.report.problem(f"{where}.restart: {restart!r} is not a restart policy "
                                "(quote \"no\": YAML reads a bare no as false)")
        self._depends_on(name, service, where)
        mounted = self._secrets(service, resolved.get("secrets") or {}, where)
        environment = self._environment(service, mounted, where)
        self._volumes(service, resolved.get("volumes") or {}, where)
        replicas = self._ports(service, where)
        self.report.check()
        if image_report is not None:
            self._command(name, service, image_report, replicas, where)
        self._postgres(name, service, environment, where)

    def _image_and_build(self, service, where):
        self.report.check()
        image, build = service.get("image"), service.get("build")
        if image is None and build is None:
            self.report.problem(f"{where}: neither image nor build")
        if image is not None:
            issue = image_reference_problem(str(image))
            if issue:
                self.report.problem(f"{where}.image: not pinned: {issue}")
        if build is None:
            return None
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        context_path = os.path.normpath(os.path.join(self.project_dir, context))
        dockerfile_path = os.path.normpath(os.path.join(context_path, dockerfile))
        if not os.path.isdir(context_path):
            self.report.problem(f"{where}.build: context {context} does not exist")
        elif not os.path.isfile(dockerfile_path):
            self.report.problem(f"{where}.build: {self.relative(dockerfile_path)} does not exist")
        else:
            return self.dockerfiles.check(context_path, dockerfile_path)
        return None

    def _depends_on(self, name, service, where):
        self.report.check()
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {entry: {"condition": "service_started"} for entry in depends}
        for dependency, settings in depends.items():
            if dependency not in self.services:
                self.report.problem(f"{where}.depends_on: {dependency} is not a service")
                continue
            if dependency == name:
                self.report.problem(f"{where}.depends_on: a service cannot depend on itself")
            condition = (settings or {}).get("condition", "service_started")
            if condition not in _DEPENDS_CONDITIONS:
                self.report.problem(f"{where}.depends_on.{dependency}: unknown condition {condition!r}")
            target = self.services[dependency]
            if condition == "service_healthy" and not (target.get("healthcheck") or {}).get("test"):
                self.report.problem(f"{where}.depends_on.{dependency}: service_healthy, but {dependency} has no "
                                    "healthcheck")
            if condition == "service_completed_successfully" and target.get("restart", "no") != "no":
                self.report.problem(f"{where}.depends_on.{dependency}: service_completed_successfully, "
                                    f"but {dependency} restarts ({target.get('restart')})")
            if target.get("profiles") and not service.get("profiles"):
                self.report.problem(f"{where}.depends_on.{dependency}: {dependency} is only in profiles "
                                    f"{target['profiles']}")

    def _secrets(self, service, top_secrets, where):
        """Paths where the service's secrets are mounted."""
        self.report.check()
        mounted = set()
        for entry in service.get("secrets") or []:
            source = entry if isinstance(entry, str) else (entry or {}).get("source")
            target = entry if isinstance(entry, str) else (entry or {}).get("target", source)
            if source not in top_secrets:
                self.report.problem(f"{where}.secrets: {source} is not declared under the top-level secrets")
            mounted.add(target if str(target).startswith("/") else f"/run/secrets/{target}")
        return mounted

    def _environment(self, service, mounted, where):
        self.report.check()
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
        for variable, value in environment.items():
            value = "" if value is None else str(value)
            if is_secret_name(variable) and value:
                self.report.problem(f"{where}.environment.{variable}: a secret in plain configuration; "
                                    "use a secret file (*_FILE)")
            if URL_WITH_PASSWORD.search(value):
                self.report.problem(f"{where}.environment.{variable}: a URL with a password; use DATABASE_URL_FILE "
                                    "and a secret")
            if variable.endswith("_FILE") and value.startswith("/run/secrets/") and value not in mounted:
                self.report.problem(f"{where}.environment.{variable}={value}, but that secret is not mounted in the "
                                    "service")
        return environment

    def _volumes(self, service, top_volumes, where):
        self.report.check()
        for entry in service.get("volumes") or []:
            if isinstance(entry, str):
                source = entry.split(":", 1)[0] if ":" in entry else None
                kind = "bind" if source and (source.startswith((".", "/", "~")) or "/" in source) else "volume"
            else:
                source, kind = entry.get("source"), entry.get("type", "volume")
            if kind == "volume" and source and source not in top_volumes:
                self.report.problem(f"{where}.volumes: {source} is not declared under the top-level volumes")

    def _ports(self, service, where):
        """Published on an explicit address, never on all of them; returns the replicas."""
        self.report.check()
        replicas = (service.get("deploy") or {}).get("replicas", 1)
        try:
            replicas = int(replicas)
        except (TypeError, ValueError):
            self.report.problem(f"{where}.deploy.replicas: {replicas!r} is not a number")
            replicas = 1
        for entry in service.get("ports") or []:
            text = (str(entry) if not isinstance(entry, dict)
                    else f"{entry.get('host_ip', '')}:{entry.get('published', '')}:{entry.get('target', '')}")
            if text.count(":") < 2 or text.split(":", 1)[0] in ("", "0.0.0.0", "::"):
                self.report.problem(f"{where}.ports: {text} publishes on every interface; bind an address, "
                                    f"e.g. 127.0.0.1:{text}")
            host_part = text.rsplit(":", 1)[0].split(":", 1)[-1]
            if replicas > 1 and "-" not in host_part:
                self.report.problem(f"{where}.ports: {text}: {replicas} replicas cannot share one host port")
        if replicas > 1 and service.get("container_name"):
            self.report.problem(f"{where}: container_name with {replicas} replicas")
        return replicas

    def _command(self, name, service, image, replicas, where):
        """Our image's programs and their options."""
        entrypoint, command = service.get("entrypoint"), service.get("command")
        if isinstance(entrypoint, str):
            entrypoint = shlex.split(entrypoint)
        if isinstance(command, str):
            command = shlex.split(command)
        argv = list(entrypoint if entrypoint is not None else image["entrypoint"])
        if command is not None:
            argv += command
        elif entrypoint is None:
            argv += image["cmd"]
        argv = [str(token) for token in argv]
        if any(URL_WITH_PASSWORD.search(token) for token in argv):
            self.report.problem(f"{where}: a password in the command line (visible in ps); use DATABASE_URL_FILE")
        if not argv:
            self.report.problem(f"{where}: runs nothing (no entrypoint or command)")
            return
        program = os.path.basename(argv[0])
        if program not in image["binaries"]:
            self.report.problem(f"{where}: runs {argv[0]!r}, which the image does not contain "
                                f"(it has {', '.join(sorted(image['binaries'])) or 'no program'})")
        elif program == "queue-worker":
            worker = self.workers.check(argv[1:], service, where)
            if replicas > 0:
                queues = worker["queues"]
                self.worked_queues.update(queues if queues is not None
                                          else self.facts.default_queues("queue-worker") or {})
            self.connection_budget.append((name, replicas, worker["connections"]))
        elif program == "jobsctl":
            check_jobsctl(argv[1:], self.facts, where, self.report)
            # jobsctl console keeps a pool of 2 per database role it acts as (the
            # sessions role and the three console roles: ConsoleDatabase).
            self.connection_budget.append((name, 1, _CONSOLE_CONNECTIONS if argv[1:2] == ["console"] else 1))

    def _postgres(self, name, service, environment, where):
        image = str(service.get("image") or "")
        if name != "postgres" and not image.startswith("postgres:"):
            return
        argv = service.get("command") or []
        argv = shlex.split(argv) if isinstance(argv, str) else [str(token) for token in argv]
        for index, token in enumerate(argv):
            setting = token if token.startswith("max_connections=") else None
            if token == "-c" and index + 1 < len(argv) and argv[index + 1].startswith("max_connections="):
                setting = argv[index + 1]
            if setting:
                try:
                    self.max_connections = int(setting.split("=", 1)[1])
                except ValueError:
                    self.report.problem(f"{where}.command: {setting} is not a number")
        if self.max_connections is None and image.startswith("postgres:"):
            self.max_connections = _POSTGRES_DEFAULT_MAX_CONNECTIONS
        if environment.get("POSTGRES_PASSWORD") and not environment.get("POSTGRES_PASSWORD_FILE"):
            self.report.problem(f"{where}: POSTGRES_PASSWORD in the environment; use POSTGRES_PASSWORD_FILE "
                                "and a secret")

    # ---- the whole project -----------------------------------------------------------

    def _top_level_secrets(self, top_secrets):
        report = self.report
        report.check()
        unignored = set()
        for secret, settings in top_secrets.items():
            settings = settings or {}
            if not any(key in settings for key in ("file", "environment", "external")):
                report.problem(f"secrets.{secret}: needs file, environment or external")
            if "file" not in settings:
                continue
            path = os.path.normpath(os.path.join(self.project_dir, str(settings["file"])))
            if not path.startswith(self.root + os.sep):
                continue
            relative = os.path.relpath(path, self.root)
            tracked = subprocess.run(["git", "-C", self.root, "ls-files", "--", relative],
                                     capture_output=True, text=True)
            if tracked.returncode == 0 and tracked.stdout.strip():
                report.problem(f"secrets.{secret}: {relative} is tracked by git; remove it and rotate the secret")
            if subprocess.run(["git", "-C", self.root, "check-ignore", "-q", "--", relative],
                              stderr=subprocess.DEVNULL).returncode == 1:
                unignored.add(relative.split(os.sep)[0])
            if not ignored(relative, dockerignore_patterns(self.root)):
                report.problem(f"secrets.{secret}: {relative} is not excluded by .dockerignore")
        for path in sorted(unignored):
            report.warn(f"the secret files under {path}/ are not git-ignored; add {path}/ to .gitignore")
        used = {(entry if isinstance(entry, str) else entry.get("source"))
                for service in self.services.values() if isinstance(service, dict)
                for entry in (service.get("secrets") or [])}
        for secret in top_secrets:
            if secret not in used:
                report.warn(f"secrets.{secret}: declared but no service uses it")

    def _every_queue_worked(self):
        self.report.check()
        expected = self.facts.default_queues("queue-worker")
        if expected is None:
            self.report.problem("queue-worker's --describe-json lists no default queues; cannot check that every "
                                "platform queue is worked")
            return
        for queue in sorted(set(expected) - self.worked_queues):
            self.report.problem(f"queue {queue!r} (a queue-worker default queue) is worked by no service's "
                                "--queues; its jobs would wait forever")

    def _connection_budget(self):
        self.report.check()
        if self.max_connections is None or not self.connection_budget:
            return
        total = sum(processes * each for _, processes, each in self.connection_budget)
        detail = " + ".join(f"{service} {processes}x{each}" for service, processes, each in self.connection_budget)
        if total + _RESERVED_CONNECTIONS > self.max_connections:
            self.report.problem(f"PostgreSQL max_connections={self.max_connections} is below what the services may "
                                f"open: {detail} + {_RESERVED_CONNECTIONS} reserved = {total + _RESERVED_CONNECTIONS}")
        else:
            self.report.note(f"connections at most {total} ({detail}) + {_RESERVED_CONNECTIONS} reserved "
                             f"<= max_connections {self.max_connections}")
