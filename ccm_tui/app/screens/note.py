"""A one-line prompt for the short note that goes with a reject or an escalation."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class NoteScreen(ModalScreen[str | None]):
    """Ask for a short note; ``enter`` confirms (empty is fine), ``escape`` cancels."""

    DEFAULT_CSS = """
    NoteScreen { align: center middle; }
    NoteScreen > Vertical { width: 70; max-width: 95%; height: auto; border: thick $warning;
                            background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        """A label and the input."""
        with Vertical():
            yield Label(self.title_text)
            yield Input(placeholder="a short note (enter to confirm, escape to cancel)",
                        max_length=200, id="note")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Confirm with the note typed."""
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        """Cancel: nothing is decided."""
        self.dismiss(None)
