"""Loading the compose file the way Compose would: YAML, duplicate keys refused."""

import yaml


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (Compose does; PyYAML keeps the last)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class ComposeFileError(Exception):
    """The file cannot be checked at all (does not parse, no services)."""


def load(path):
    """The document, or ComposeFileError with a one-line reason."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.load(handle, Loader=StrictLoader)
    except yaml.YAMLError as error:
        raise ComposeFileError("does not parse as YAML: " + " ".join(str(error).split())) from error
    if not isinstance(document, dict) or not isinstance(document.get("services"), dict) or not document["services"]:
        raise ComposeFileError("has no services mapping")
    return document
