int vic_dummy(void){return 0;}
