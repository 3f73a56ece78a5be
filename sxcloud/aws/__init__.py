"""AWS: security-group rules for the appliances."""
