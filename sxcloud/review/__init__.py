"""`sxcloud review`: what a change to the firewall opens and closes, and why, as Markdown.

openings    both clouds' firewalls in one shape (direction, protocol/port, peer, vendor rows)
tfplan      a Terraform plan's before and after as openings (read by verify.tfjson/rules)
attribution why each planned opening exists, and whether the files intend it
diff        openings added, removed and changed
findings    warnings and notes derived from the openings
mermaid     the flowchart of roles and ports
sources     the base version of the deployment files (other files, or a git ref, links
            resolved at each version) and the policy file at a ref
settings    what else decides where traffic and state go (endpoints, backend, associations...)
hosts       the settings that send state, credentials or tokens to a host; the clouds' own hosts
policyfile  the review policy file (.sxcloud/review.yaml): trusted hosts, other groups
planactions the non-rule resources a Terraform plan creates, updates or deletes
paths       how the report names a file
verification the verify result of each stack (the integration point with `sxcloud verify`)
build       a Review from files (and a base) or from plans
markdown    the Review as a pull-request comment, with the one Markdown escaper (`text`)
mermaid     (above) also holds the one Mermaid label escaper (`escape`)
data        the same facts as JSON

Nothing here imports the CDK: a review reads YAML and JSON only.
"""
