"""The console adapter: try the whole flow in a terminal, over the same core, store and engine as Slack.

Like errbot's text backend and opsdroid's shell connector it is a third platform, not a mock: typed lines
are translated to the same use case calls (`translate`, `announce`, `repl`), the core's view models are
rendered as text (`render`), and `ConsoleMessenger` / `ConsoleDirectory` implement the outbound ports
over in-memory inboxes and the people table.

Terminal library: `rich` alone. It renders the view models (panels for DMs, a table for `/people`,
styles, emoji) and degrades by itself to plain text when the output is not a terminal, so the demo
transcript and piped runs read cleanly with no escape codes; it is pure Python, widely used and actively
kept (Textualize), with two small dependencies (markdown-it-py, Pygments). Input needs no library: the
standard `input()` with `readline` gives line editing, history and Tab completion on a terminal, and a
pipe or a script is read line by line. prompt_toolkit would add richer completion menus, but it wants a
real terminal (piped stdin and tests need a fallback anyway) and a second dependency for little gain.
"""
