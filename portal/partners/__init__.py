"""MRA programs, the business-partner register of each trade account, screening, import and export."""
