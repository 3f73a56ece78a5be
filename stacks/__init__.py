"""The CDK app of this repository: `python -m stacks`, named as the app in cdktf.json.

`cdktn synth` (or `cdktf synth`) runs it; it reads the deployment files named in
SXCLOUD_CONFIG (separated by the platform's path separator), or ./sxcloud.yaml, or the
built-in example, and adds one stack per cloud section of each file.
"""
