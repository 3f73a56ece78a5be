"""sxcloud: the SX-MailCrypt vendor firewall table as AWS security groups and Azure NSGs."""

__version__ = "0.1.0"
