"""Each test copies the fixture project (which passes), breaks one rule in it and
checks that exactly that rule is reported."""

import os
import shutil
import subprocess
import tempfile
import unittest

from compose_check.checker import ComposeChecker
from compose_check.compose_yaml import ComposeFileError
from compose_check.programs import ProgramFacts

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


class FixtureProject(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="compose-check-")
        self.addCleanup(shutil.rmtree, self.folder)
        self.root = os.path.join(self.folder, "project")
        shutil.copytree(os.path.join(FIXTURES, "project"), self.root)
        with open(os.path.join(self.root, ".gitignore"), "w", encoding="utf-8") as handle:
            handle.write("secrets/\n")
        self.git("init", "-q")
        self.facts = ProgramFacts.from_files(os.path.join(FIXTURES, "facts"))

    def git(self, *arguments):
        subprocess.run(["git", "-C", self.root, *arguments], check=True, capture_output=True)

    def edit(self, name, old, new):
        """Replaces `old` (which must be there) by `new` in one of the project's files."""
        path = os.path.join(self.root, name)
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        self.assertIn(old, text, f"the fixture {name} changed; update the test")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text.replace(old, new))

    def report(self):
        return ComposeChecker(self.root, os.path.join(self.root, "docker-compose.yml"), self.facts).run()

    def problems(self):
        return self.report().problems

    def assertOneProblem(self, *fragments):
        problems = self.problems()
        self.assertEqual(len(problems), 1, problems)
        for fragment in fragments:
            self.assertIn(fragment, problems[0])


class PassingProjectTests(FixtureProject):
    def test_fixture_passes(self):
        self.assertEqual(self.problems(), [])

    def test_a_worker_without_queues_works_the_default_queues(self):
        self.edit("docker-compose.yml", "      - --queues=${WORKER_QUEUES:-default=4,reminders=8,notifications=16,"
                  "maintenance=2,payouts=4}\n", "")
        self.edit(".env.example", "WORKER_QUEUES=default=4,reminders=8,notifications=16,maintenance=2,payouts=4\n", "")
        self.assertEqual(self.problems(), [])


class ProgramTests(FixtureProject):
    def test_unknown_worker_option(self):
        self.edit("docker-compose.yml", "--grace=25", "--graze=25")
        self.assertOneProblem("services.worker", "unknown option --graze")

    def test_flag_given_a_value(self):
        self.edit("docker-compose.yml", "--grace=25", "--no-listen=yes\n      - --grace=25")
        self.assertOneProblem("--no-listen takes no value")

    def test_option_missing_its_value(self):
        self.edit("docker-compose.yml", '["queues", "list", "--json"]', '["jobs", "list", "--limit"]')
        self.assertOneProblem("--limit needs a value")

    def test_unknown_jobsctl_command(self):
        self.edit("docker-compose.yml", '["queues", "list", "--json"]', '["queues", "purge"]')
        self.assertOneProblem("jobsctl queues purge: no such command", "list, pause")

    def test_program_not_in_the_image(self):
        self.edit("docker-compose.yml", '["jobsctl", "migrate"]', '["migrator"]')
        self.assertOneProblem("runs 'migrator', which the image does not contain")

    def test_a_default_queue_nobody_works(self):
        self.edit(".env.example", "maintenance=2,payouts=4", "maintenance=2")
        self.edit("docker-compose.yml", "maintenance=2,payouts=4}", "maintenance=2}")
        self.assertOneProblem("queue 'payouts'", "worked by no service")

    def test_stop_grace_period_shorter_than_grace(self):
        self.edit("docker-compose.yml", "stop_grace_period: 40s", "stop_grace_period: 20s")
        self.assertOneProblem("stop_grace_period (20s) must exceed --grace (25s)")

    def test_healthcheck_probes_another_port(self):
        self.edit("docker-compose.yml", "/dev/tcp/127.0.0.1/9100", "/dev/tcp/127.0.0.1/9200")
        self.assertOneProblem("probes port 9200 but --metrics-port is 9100")

    def test_connections_beyond_max_connections(self):
        self.edit(".env.example", "POSTGRES_MAX_CONNECTIONS=100", "POSTGRES_MAX_CONNECTIONS=20")
        self.edit("docker-compose.yml", "max_connections=${POSTGRES_MAX_CONNECTIONS:-100}",
                  "max_connections=${POSTGRES_MAX_CONNECTIONS:-20}")
        self.assertOneProblem("max_connections=20 is below what the services may open")


class VariableTests(FixtureProject):
    def test_variable_not_in_env_example(self):
        self.edit("docker-compose.yml", "stop_grace_period: 40s", "stop_grace_period: ${STOP_GRACE:-40s}")
        self.assertOneProblem("${STOP_GRACE}", "not documented in .env.example")

    def test_default_differs_from_env_example(self):
        self.edit(".env.example", "POSTGRES_MAX_CONNECTIONS=100", "POSTGRES_MAX_CONNECTIONS=200")
        self.assertOneProblem("compose default '100' differs from .env.example's '200'")

    def test_env_example_variable_nobody_uses(self):
        self.edit(".env.example", "POSTGRES_MAX_CONNECTIONS=100", "POSTGRES_MAX_CONNECTIONS=100\nUNUSED=1")
        self.assertOneProblem(".env.example lists UNUSED")

    def test_secret_value_in_env_example(self):
        self.edit(".env.example", "POSTGRES_MAX_CONNECTIONS=100", "POSTGRES_MAX_CONNECTIONS=100\nAPI_TOKEN=abc")
        self.edit("docker-compose.yml", "      DATABASE_URL_FILE: /run/secrets/database_url\n    secrets:\n      - database_url\n    restart: \"no\"",
                  "      DATABASE_URL_FILE: /run/secrets/database_url\n      X: ${API_TOKEN:-}\n    secrets:\n      - database_url\n    restart: \"no\"")
        problems = self.problems()
        self.assertTrue(any("API_TOKEN has a value" in problem for problem in problems), problems)


class ServiceTests(FixtureProject):
    def test_password_in_the_environment(self):
        self.edit("docker-compose.yml", "POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password",
                  "POSTGRES_PASSWORD: hunter2")
        problems = self.problems()
        self.assertTrue(any("POSTGRES_PASSWORD: a secret in plain configuration" in p for p in problems), problems)

    def test_unpinned_image(self):
        self.edit("docker-compose.yml", "postgres:15.19-bookworm", "postgres:latest")
        self.assertOneProblem("services.postgres.image: not pinned", "moving tag (latest)")

    def test_port_on_every_interface(self):
        self.edit("docker-compose.yml", '"127.0.0.1:9101-9102:9100"', '"9101-9102:9100"')
        self.assertOneProblem("publishes on every interface")

    def test_service_healthy_without_healthcheck(self):
        self.edit("docker-compose.yml", "    healthcheck:\n      test: [\"CMD-SHELL\", \"pg_isready -h 127.0.0.1\"]\n",
                  "")
        self.assertOneProblem("service_healthy, but postgres has no healthcheck")

    def test_completed_successfully_on_a_restarting_service(self):
        self.edit("docker-compose.yml", 'restart: "no"', "restart: always")
        self.assertOneProblem("service_completed_successfully, but migrate restarts")

    def test_secret_not_declared(self):
        self.edit("docker-compose.yml", "  database_url:\n    file: ./secrets/database_url\n", "")
        problems = self.problems()
        self.assertTrue(problems)
        self.assertTrue(all("database_url is not declared under the top-level secrets" in p for p in problems), problems)

    def test_secret_file_tracked_by_git(self):
        os.makedirs(os.path.join(self.root, "secrets"))
        with open(os.path.join(self.root, "secrets", "database_url"), "w", encoding="utf-8") as handle:
            handle.write("postgres://app@db/app\n")
        self.git("add", "-f", "secrets/database_url")
        self.assertOneProblem("secrets.database_url: secrets/database_url is tracked by git")

    def test_secret_folder_not_git_ignored_is_a_warning(self):
        os.remove(os.path.join(self.root, ".gitignore"))
        report = self.report()
        self.assertEqual(report.problems, [])
        self.assertEqual(report.warnings, ["the secret files under secrets/ are not git-ignored; add secrets/ to "
                                           ".gitignore"])

    def test_undeclared_volume(self):
        self.edit("docker-compose.yml", "volumes:\n  pgdata:\n", "")
        self.assertOneProblem("pgdata is not declared under the top-level volumes")

    def test_duplicate_key_is_refused(self):
        self.edit("docker-compose.yml", "    restart: unless-stopped\n", "    restart: unless-stopped\n    restart: always\n")
        with self.assertRaises(ComposeFileError) as raised:
            self.problems()
        self.assertIn("duplicate key 'restart'", str(raised.exception))


class DockerfileTests(FixtureProject):
    def test_final_stage_as_root(self):
        self.edit("Dockerfile", "USER 10001:10001", "USER root")
        self.assertOneProblem("the final stage's USER is root")

    def test_copies_a_binary_that_is_no_product(self):
        self.edit("Dockerfile", "/out/queue-worker /usr", "/out/queue-worker /out/helper /usr")
        self.assertOneProblem("copies helper, which is not an executable product")

    def test_builds_an_unknown_product(self):
        self.edit("Dockerfile", "--product queue-worker", "--product queue-worker && swift build --product bench")
        self.assertOneProblem("--product bench: not an executable product")

    def test_unpinned_base_image(self):
        self.edit("Dockerfile", "debian:12.15-slim", "debian:bookworm-slim")
        self.assertOneProblem("base image not pinned", "bookworm-slim")

    def test_missing_libpq(self):
        self.edit("Dockerfile", "libpq5 ", "")
        self.assertOneProblem("does not install libpq5")

    def test_migrations_not_copied_where_migrations_dir_points(self):
        self.edit("Dockerfile", "ENV MIGRATIONS_DIR=/opt/app/sql", "ENV MIGRATIONS_DIR=/migrations")
        self.assertOneProblem("MIGRATIONS_DIR=/migrations but sql/ is not copied there")

    def test_secret_baked_into_the_image(self):
        self.edit("Dockerfile", "USER 10001:10001", "ENV DB_PASSWORD=x\nUSER 10001:10001")
        self.assertOneProblem("ENV DB_PASSWORD: no secrets in the image")

    def test_dockerignore_lets_the_test_cluster_in(self):
        self.edit(".dockerignore", ".testdb\n", "")
        self.assertOneProblem(".dockerignore does not exclude .testdb")


if __name__ == "__main__":
    unittest.main()
