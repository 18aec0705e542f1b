"""Development tools run from the checkout (`make audit`); not part of the wheel."""
