import CBLAS
import Explorer
import Catalog
print("vitrine")
