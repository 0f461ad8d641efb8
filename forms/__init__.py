"""WTForms classes, one module per feature. Forms check shape; services check meaning (no DB here)."""
