"""Azure: an NSG and an application security group for the appliances."""
