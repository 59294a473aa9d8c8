"""``make demo`` installs Debian's chromium for the storefront's browser journey only when it is missing and it may
(root or password-less sudo, apt-get there); otherwise it installs nothing, runs the rest, and its banner says why
the journey is left out. No real package is installed here: the commands are recorded."""

from __future__ import annotations

import subprocess
from types import ModuleType
from typing import Any

import pytest

from synthetic.steps import browser as browser_steps
from tests.harness.scripts import load_script


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_script("demo")
    monkeypatch.delenv("DEMO_INSTALL_CHROMIUM", raising=False)
    monkeypatch.delenv("WORKFLOW_EXPORTER_CHROMIUM", raising=False)
    return module


class Recorder:
    """Stands in for subprocess.run: records each command, answers with ``codes`` in turn (then 0)."""

    def __init__(self, *codes: int) -> None:
        self.commands: list[list[str]] = []
        self.codes = list(codes)

    def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        self.commands.append(command)
        return subprocess.CompletedProcess(command, self.codes.pop(0) if self.codes else 0)


def no_chromium(monkeypatch: pytest.MonkeyPatch, demo: ModuleType, *, apt: bool, root: bool, sudo: bool) -> Recorder:
    monkeypatch.setattr(browser_steps, "CHROMIUM_CANDIDATES", ())
    tools = {"apt-get": "/usr/bin/apt-get" if apt else None, "sudo": "/usr/bin/sudo", "chromium": None}
    monkeypatch.setattr(demo.shutil, "which", tools.get)
    monkeypatch.setattr(demo.os, "geteuid", lambda: 0 if root else 1000)
    recorder = Recorder(*([1] if not (root or sudo) else []))  # the answer of `sudo -n true`
    monkeypatch.setattr(demo.subprocess, "run", recorder)
    return recorder


def test_as_root_it_installs_chromium_with_apt(monkeypatch: pytest.MonkeyPatch, demo: ModuleType) -> None:
    recorder = no_chromium(monkeypatch, demo, apt=True, root=True, sudo=False)
    demo.install_chromium()
    assert recorder.commands == [
        ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update", "-qq"],
        ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "--no-install-recommends",
         "chromium"],
    ]  # fmt: skip
    assert not any("playwright" in " ".join(command) for command in recorder.commands)  # no browser download


def test_with_password_less_sudo_it_installs_through_sudo(monkeypatch: pytest.MonkeyPatch, demo: ModuleType) -> None:
    recorder = no_chromium(monkeypatch, demo, apt=True, root=False, sudo=True)
    demo.install_chromium()
    assert recorder.commands[0] == ["sudo", "-n", "true"]
    assert [command[:3] for command in recorder.commands[1:]] == [["sudo", "-n", "env"]] * 2


@pytest.mark.parametrize(("apt", "root", "sudo"), [(False, True, False), (True, False, False)],
                         ids=["no apt-get", "no root, no sudo"])  # fmt: skip
def test_when_it_may_not_it_installs_nothing_and_the_banner_says_why(
    monkeypatch: pytest.MonkeyPatch, demo: ModuleType, apt: bool, root: bool, sudo: bool
) -> None:
    recorder = no_chromium(monkeypatch, demo, apt=apt, root=root, sudo=sudo)
    demo.install_chromium()
    assert not [command for command in recorder.commands if "apt-get" in command]
    problem = demo.browser_steps_problem()
    assert problem is not None and "apt-get install chromium" in problem


def test_a_failed_install_leaves_the_rest_running(monkeypatch: pytest.MonkeyPatch, demo: ModuleType) -> None:
    recorder = no_chromium(monkeypatch, demo, apt=True, root=True, sudo=False)
    recorder.codes = [100]  # apt-get update fails (no network): no install attempted, nothing raised
    demo.install_chromium()
    assert [command[3] for command in recorder.commands] == ["update"]
    assert "apt-get install chromium" in (demo.browser_steps_problem() or "")


def test_nothing_is_installed_when_chromium_is_there_or_it_is_declined(
    monkeypatch: pytest.MonkeyPatch, demo: ModuleType
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(demo.subprocess, "run", recorder)
    monkeypatch.setattr(browser_steps, "chromium_path", lambda: "/usr/bin/chromium")
    demo.install_chromium()
    monkeypatch.setattr(browser_steps, "chromium_path", lambda: None)
    monkeypatch.setenv("DEMO_INSTALL_CHROMIUM", "0")
    demo.install_chromium()
    assert recorder.commands == []
