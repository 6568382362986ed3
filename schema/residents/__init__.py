"""Resident self-service: logins through a signing app, the apps holding a token."""
