"""An example shop that sends emails, charges payments and builds reports in the background."""
