"""Leaf utilities shared by the gateway, the collector and the adapters. Imports nothing of ours."""
