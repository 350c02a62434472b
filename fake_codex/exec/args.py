"""Strict, clap-like parsing of `codex exec [OPTIONS] [PROMPT]` and `exec resume`.

Rules taken from the real CLI (codex-rs/exec/src/cli.rs, codex-facts §3 and §6): options may be
mixed with positionals, `--` ends options, `-mVALUE` / `-m=VALUE` / `--model=VALUE` forms work,
an unknown option is a clap error (rc 2). After `resume` only the *global* options plus
`--last`, `--all`, `-i`, `--output-schema` are accepted: `-C`, `-s`, `-p`, `--color`, `--oss` are
rejected. A `-c` after `resume` makes 0.135/0.150 drop every `-c` before it (exec_cmd applies
that). `--image` takes 1..N values (the next arguments up to an option or `--`, so
`exec --image a.png resume` reads `resume` as a second image) and splits each at commas.
"""

from __future__ import annotations

from dataclasses import dataclass

from fake_codex.core import clap


class _Opt:
    """One option of the table (a plain class: the fake starts on every turn, keep it cheap)."""

    __slots__ = ("key", "long", "repeat", "short", "value", "where")

    def __init__(
        self,
        key: str,
        long: str,
        short: str | None = None,
        value: str | None = None,  # value name when the option takes one
        repeat: bool = False,
        where: str = "both",  # "exec" (not after resume), "resume" (only after), "both" (global)
    ) -> None:
        self.key, self.long, self.short = key, long, short
        self.value, self.repeat, self.where = value, repeat, where

    @property
    def display(self) -> str:
        return f"--{self.long} <{self.value}>" if self.value else f"--{self.long}"


_OPTS = (
    _Opt("json", "json"),
    _Opt("skip_git_repo_check", "skip-git-repo-check"),
    _Opt("bypass", "dangerously-bypass-approvals-and-sandbox"),
    _Opt("ephemeral", "ephemeral"),
    _Opt("full_auto", "full-auto"),
    _Opt("model", "model", "m", "MODEL"),
    _Opt("config", "config", "c", "key=value", repeat=True),
    _Opt("enable", "enable", None, "FEATURE", repeat=True),
    _Opt("disable", "disable", None, "FEATURE", repeat=True),
    _Opt("output_last_message", "output-last-message", "o", "FILE"),
    _Opt("images", "image", "i", "FILE", repeat=True),
    _Opt("cd", "cd", "C", "DIR", where="exec"),
    _Opt("sandbox", "sandbox", "s", "SANDBOX_MODE", where="exec"),
    _Opt("color", "color", None, "COLOR", where="exec"),
    _Opt("oss", "oss", where="exec"),
    _Opt("profile", "profile", "p", "CONFIG_PROFILE", where="exec"),
    _Opt("output_schema", "output-schema", None, "FILE"),
    _Opt("last", "last", where="resume"),
    _Opt("all", "all", where="resume"),
)
_SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")
_COLORS = ("always", "never", "auto")


@dataclass(frozen=True)
class ExecArgs:
    json: bool = False
    skip_git_repo_check: bool = False
    bypass: bool = False
    ephemeral: bool = False
    full_auto: bool = False
    oss: bool = False
    model: str | None = None
    config: tuple[str, ...] = ()
    config_after_resume: tuple[str, ...] = ()  # the `-c` given after `resume` (also in config)
    enable: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    output_last_message: str | None = None
    images: tuple[str, ...] = ()
    cd: str | None = None
    sandbox: str | None = None
    color: str | None = None
    profile: str | None = None
    output_schema: str | None = None
    resume: bool = False
    session_id: str | None = None
    last: bool = False
    all: bool = False
    prompt: str | None = None


class HelpRequested:
    """`-h`/`--help` was given: print `text`, exit 0."""

    def __init__(self, text: str) -> None:
        self.text = text


class VersionRequested:
    """`exec --version` was given."""


class _State:
    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self.positionals: list[str] = []
        self.resume = False
        self.config_after_resume: list[str] = []


def _lookup(token: str) -> tuple[_Opt | None, str | None]:
    """Find the option named by `token` (`--long[=v]`, `-s[v]`, `-s=v`) and any inline value."""
    if token.startswith("--"):
        name, eq, inline = token[2:].partition("=")
        for opt in _OPTS:
            if opt.long == name or (name == "experimental-json" and opt.key == "json"):
                return opt, inline if eq else None
        return None, None
    short, rest = token[1], token[2:]
    for opt in _OPTS:
        if opt.short == short:
            if not rest:
                return opt, None
            if opt.value is None:
                return None, None
            return opt, rest[1:] if rest.startswith("=") else rest
    return None, None


def _store(state: _State, opt: _Opt, value: str | None) -> None:
    if opt.key == "sandbox" and value not in _SANDBOX_MODES:
        raise clap.invalid_value(str(value), opt.display, _SANDBOX_MODES)
    if opt.key == "color" and value not in _COLORS:
        raise clap.invalid_value(str(value), opt.display, _COLORS)
    if opt.value is None:
        state.values[opt.key] = True
    elif opt.repeat:
        items = value.split(",") if opt.key == "images" and value else [value]
        previous = state.values.get(opt.key, ())
        assert isinstance(previous, tuple)
        state.values[opt.key] = (*previous, *items)
    else:
        state.values[opt.key] = value


def parse_exec_args(argv: list[str]) -> ExecArgs | HelpRequested | VersionRequested:
    """Parse the arguments after `exec`; raises `clap.UsageError` like clap would."""
    state = _State()
    i = 0
    only_positionals = False
    while i < len(argv):
        token = argv[i]
        i += 1
        usage = clap.USAGE_RESUME if state.resume else clap.USAGE_EXEC
        if only_positionals or token == "-" or not token.startswith("-"):
            if token == "resume" and not (state.resume or only_positionals or state.positionals):
                state.resume = True
                continue
            state.positionals.append(token)
            limit = 2 if state.resume else 1
            if len(state.positionals) > limit:
                raise clap.unexpected_argument(token, usage, only_positionals)
            continue
        if token == "--":
            only_positionals = True
            continue
        if token in ("-h", "--help"):
            return HelpRequested(clap.RESUME_HELP if state.resume else clap.EXEC_HELP)
        if token in ("-V", "--version") and not state.resume:
            return VersionRequested()
        opt, inline = _lookup(token)
        if opt is None or (opt.where == "exec" and state.resume):
            raise clap.unexpected_argument(token.split("=", 1)[0], usage)
        if opt.where == "resume" and not state.resume:
            raise clap.unexpected_argument(token, usage)
        if opt.value is not None and inline is None:
            if i >= len(argv):
                raise clap.missing_value(opt.display)
            inline = argv[i]
            i += 1
            if opt.key == "images":
                # clap's num_args(1..): later plain arguments are more images (real 0.135–0.171)
                while i < len(argv) and (argv[i] == "-" or not argv[i].startswith("-")):
                    _store(state, opt, inline)
                    inline = argv[i]
                    i += 1
        elif opt.value is None and inline is not None:
            raise clap.UsageError(
                f"error: unexpected value '{inline}' for '--{opt.long}' found; no more were "
                "expected\n\nFor more information, try '--help'.\n"
            )
        _store(state, opt, inline)
        if opt.key == "config" and state.resume:
            state.config_after_resume.append(str(inline))
    return _build(state)


def _build(state: _State) -> ExecArgs:
    v = state.values
    session_id: str | None = None
    prompt: str | None = None
    if state.resume:
        session_id = state.positionals[0] if state.positionals else None
        prompt = state.positionals[1] if len(state.positionals) > 1 else None
        if v.get("last") and prompt is None:
            # `resume --last <prompt>`: the lone positional is the prompt (codex does the same).
            session_id, prompt = None, session_id
    elif state.positionals:
        prompt = state.positionals[0]

    def text(key: str) -> str | None:
        value = v.get(key)
        return value if isinstance(value, str) else None

    def many(key: str) -> tuple[str, ...]:
        value = v.get(key, ())
        return tuple(str(x) for x in value) if isinstance(value, tuple) else ()

    return ExecArgs(
        json=bool(v.get("json")),
        skip_git_repo_check=bool(v.get("skip_git_repo_check")),
        bypass=bool(v.get("bypass")),
        ephemeral=bool(v.get("ephemeral")),
        full_auto=bool(v.get("full_auto")),
        oss=bool(v.get("oss")),
        model=text("model"),
        config=many("config"),
        config_after_resume=tuple(state.config_after_resume),
        enable=many("enable"),
        disable=many("disable"),
        output_last_message=text("output_last_message"),
        images=many("images"),
        cd=text("cd"),
        sandbox=text("sandbox"),
        color=text("color"),
        profile=text("profile"),
        output_schema=text("output_schema"),
        resume=state.resume,
        session_id=session_id,
        last=bool(v.get("last")),
        all=bool(v.get("all")),
        prompt=prompt,
    )
