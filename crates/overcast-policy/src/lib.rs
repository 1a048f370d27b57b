//! Overcast policy engine: AWS-faithful IAM policy evaluation.
