// Placeholder: replaced by this module's implementation.
