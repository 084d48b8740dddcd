"""monitor: a news monitor for US–Russia relations (ambassadors, prisoner swaps)."""

__version__ = "0.1.0"
