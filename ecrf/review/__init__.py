"""Review of a participant's data: her forms as a reader sees them, value by value, with
who entered each value, its verification against source and its queries."""
