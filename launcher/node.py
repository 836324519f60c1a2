"""Placeholder"""
class NodeAgent: pass
